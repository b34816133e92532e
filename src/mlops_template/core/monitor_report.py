"""The monitor's report, typed: drift per column and for the batch, prediction drift,
and performance where the batch has labels; with its summary for people and the
numbers MLflow logs. Stored as JSON with only the keys each result has."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from mlops_template.metric_names import CHANCE_METRICS, improvement


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class ColumnDrift(_Part):
    """One column (or the predictions): a test's p-value on small samples, a distance on
    large ones, no decision on too few rows (core/drift.py)."""

    kind: Literal["numeric", "categorical"]
    reference_rows: int
    current_rows: int
    reference_missing: float
    current_missing: float
    decision: str
    test: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    threshold: float | None = None
    unseen: list[str] | None = None  # categories the reference never had (the first few)
    unseen_share: float | None = None  # the share of current values the reference never had


class DatasetDrift(_Part):
    features: int
    decided: int
    drifted: list[str]
    share: float
    drift_share: float
    decision: str


class Performance(_Part):
    """The gate's metric on the batch's labelled rows against the model's evaluation
    score; too few labelled rows give a decision and no numbers."""

    metric: str
    decision: str
    labelled_rows: int | None = None
    unlabelled_rows: int | None = None  # rows whose label is missing: not scored
    # Labelled rows of a class training dropped as too small to learn (validate.
    # small_classes=drop): the model never predicts them, so they are not scored either.
    dropped_class_rows: int | None = None
    # Labelled rows the model trained on (by split.key, else the features): they would
    # flatter it, so they are not scored.
    trained_rows: int | None = None
    batch: float | None = None
    batch_interval: tuple[float, float] | None = None
    baseline: float | None = None
    trivial: float | None = None
    drop: float | None = None
    max_drop: float | None = None
    max_drop_share: float | None = None
    batch_metrics: dict[str, float] | None = None
    baseline_metrics: dict[str, float] | None = None

    def left_out(self) -> str:
        """The batch's rows the score leaves out, in words ("" if none)."""
        parts = [f"{self.unlabelled_rows} without a label"] if self.unlabelled_rows else []
        parts += self._labelled_left_out()
        return f"{' and '.join(parts)} left out" if parts else ""

    def _labelled_left_out(self) -> list[str]:
        parts = []
        if self.dropped_class_rows:
            parts.append(f"{self.dropped_class_rows} of a class training dropped")
        if self.trained_rows:
            parts.append(f"{self.trained_rows} the model trained on")
        return parts

    def dropped_class_note(self) -> str:
        """For a log window, where unlabelled rows go without saying: the rows that have
        labels but are not scored, of a class training dropped or trained on ("" if none)."""
        parts = self._labelled_left_out()
        return f" (and {' and '.join(parts)}, left out)" if parts else ""

    def why(self) -> str:
        """The drop against the allowance, and when they disagree with the decision, the
        interval's best end, which decides (a drop beyond the allowance may be noise)."""
        drop = round(self.drop, 4) + 0.0  # not -0.0000 for a batch a hair better
        said = f"drop {drop:.4f}, allowed {self.max_drop:.4f} = {self.max_drop_share} of the lead"
        low, high = self.batch_interval or (self.batch, self.batch)
        best = max((low, high), key=lambda v: improvement(self.metric, v, self.baseline))
        if self.decision == "out of range":
            return f"{said}; beyond it even at the interval's best end, {best:.4f}"
        if self.drop > self.max_drop:
            return f"{said}: noise, as the interval's best end, {best:.4f}, is within it"
        return said

    def labels_suspect(self) -> str:
        """Why the labels look wrong ("" if they do not): scored by a chance-level metric,
        the model is below the trivial baseline even at the interval's best end, worse
        than a guess. Drift brings a model down towards chance; inverted labels, or labels
        joined to other rows, take it past (a CT trial promoted a model learned from a
        drifted batch whose labels were all flipped)."""
        if self.batch is None or self.trivial is None or self.metric not in CHANCE_METRICS:
            return ""
        low, high = self.batch_interval or (self.batch, self.batch)
        if max(low, high) >= self.trivial:
            return ""
        return (
            f"the labels look wrong: {self.metric} {self.batch:.4f} on "
            f"{self.labelled_rows} labelled rows is below the trivial baseline's "
            f"{self.trivial:.4f} even at its interval's best end ({max(low, high):.4f}), "
            "worse than a guess (labels inverted, or joined to other rows?); not learned "
            "from: check them"
        )

    def line(self) -> str:
        left_out = self.left_out()
        if self.batch is None:
            left_out = f", {left_out}" if left_out else ""
            return f"performance: {self.decision} ({self.labelled_rows} labelled{left_out})"
        low, high = self.batch_interval or (self.batch, self.batch)
        line = (
            f"{self.metric}: {self.batch:.4f} on the batch (interval {low:.4f} to "
            f"{high:.4f}), {self.baseline:.4f} on the evaluation data, {self.trivial:.4f} "
            f"for the trivial baseline: {self.decision} ({self.why()})"
        )
        if left_out:
            line += f"; scored on its {self.labelled_rows} labelled rows, {left_out}"
        return line


class BatchFile(_Part):
    path: str
    md5: str
    rows: int
    sampled: int | None = None  # rows drawn from a larger batch (monitor.max_rows)


class ModelVersion(_Part):
    name: str
    version: str


class Reference(_Part):
    md5: str
    rows: int


class MonitorReport(_Part):
    batch: BatchFile
    model: ModelVersion
    reference: Reference
    dataset: DatasetDrift
    prediction: ColumnDrift
    performance: Performance | None
    features: dict[str, ColumnDrift]
    settings: dict[str, Any]

    def summary(self, target: str = "") -> str:
        """For people; `target` names the label column where the batch has no labels (a
        misnamed one looks like none)."""
        dataset = self.dataset
        unlabelled = "performance: the batch has no labels" + (
            f" (no column '{target}' with values)" if target else ""
        )
        # Columns drifted and a batch that does not, said so that both read true.
        share = f"{dataset.drift_share:.0%} of them"
        threshold = {
            "drift": f"; the batch drifts from {share}, monitor.drift_share",
            "no drift": f", fewer than the {share} from which the batch drifts, "
            "monitor.drift_share",
        }.get(dataset.decision, "")
        drifted = f": {', '.join(dataset.drifted)}" if dataset.drifted else ""
        batch = self.batch
        drawn = f" ({batch.sampled} of its {batch.rows} rows, monitor.max_rows)"
        lines = [
            f"{batch.path}{drawn if batch.sampled else ''} against {self.model.name} "
            f"v{self.model.version}'s training "
            f"data: {dataset.decision} ({len(dataset.drifted)} of {dataset.decided} columns "
            f"drifted{threshold if dataset.drifted else ''}){drifted}",
            f"predictions: {self.prediction.decision}",
            self.performance.line() if self.performance else unlabelled,
        ]
        return "\n".join(lines)

    def metrics(self) -> dict[str, float]:
        """What the monitor run logs to MLflow."""
        values: dict[str, float] = {
            "drift.share": self.dataset.share,
            "drift.drifted_columns": len(self.dataset.drifted),
            "batch.rows": self.batch.rows,
            **{
                f"drift.{name}": result.statistic
                for name, result in self.features.items()
                if result.statistic is not None
            },
        }
        if self.prediction.statistic is not None:
            values["drift.prediction"] = self.prediction.statistic
        perf = self.performance
        if perf and perf.batch_metrics is not None:
            values.update({f"batch.{k}": v for k, v in perf.batch_metrics.items()})
            values.update({f"baseline.{k}": v for k, v in (perf.baseline_metrics or {}).items()})
        return values


class Window(_Part):
    """One time window of the inference log: its drift against the training data and,
    where labels have arrived, the gate's metric. A window without rows has neither."""

    start: str
    end: str
    rows: int
    dataset: DatasetDrift | None = None
    prediction: ColumnDrift | None = None
    performance: Performance | None = None
    features: dict[str, ColumnDrift] | None = None

    def line(self) -> str:
        when = f"{self.start} to {self.end}"
        if self.dataset is None:
            return f"{when}: no rows"
        drift = (
            f"{self.dataset.decision} ({len(self.dataset.drifted)} of {self.dataset.decided} "
            f"columns{': ' + ', '.join(self.dataset.drifted) if self.dataset.drifted else ''})"
        )
        if self.prediction is not None:  # as the batch's summary says it
            drift += f", predictions: {self.prediction.decision}"
        perf = self.performance
        if perf is None:
            return f"{when}: {self.rows} rows, {drift}; no labels yet"
        # Rows whose labels have not arrived are the norm in a window (rows - labelled);
        # labelled rows of a class training dropped are said, as they have labels.
        labelled = f"{perf.labelled_rows} labelled{perf.dropped_class_note()}"
        if perf.batch is None:
            scored = f"{perf.metric}: {perf.decision} ({labelled})"
        else:
            low, high = perf.batch_interval or (perf.batch, perf.batch)
            scored = (
                f"{perf.metric} {perf.batch:.4f} [{low:.4f}, {high:.4f}] on {labelled}: "
                f"{perf.decision}"
            )
        return f"{when}: {self.rows} rows, {drift}; {scored}"


class LogReport(_Part):
    """The inference log, window by window, against one model version."""

    table: str
    model: ModelVersion
    reference: Reference
    window: str
    rows: int
    labelled_rows: int
    windows: list[Window]
    settings: dict[str, Any]

    def summary(self) -> str:
        lines = [
            f"{self.table} ({self.rows} rows, {self.labelled_rows} labelled) against "
            f"{self.model.name} v{self.model.version}'s training data, by windows of "
            f"{self.window}:"
        ]
        lines += [f"  {w.line()}" for w in self.windows]
        return "\n".join(lines)

    def metrics(self) -> dict[str, float]:
        """What the monitor run logs to MLflow: the newest window's figures."""
        values: dict[str, float] = {"log.rows": self.rows, "log.labelled_rows": self.labelled_rows}
        latest = next((w for w in reversed(self.windows) if w.dataset is not None), None)
        if latest is not None and latest.dataset is not None:
            values["latest.drift.share"] = latest.dataset.share
            values["latest.rows"] = latest.rows
            perf = latest.performance
            if perf is not None and perf.batch is not None:
                values[f"latest.{perf.metric}"] = perf.batch
        return values
