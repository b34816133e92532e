"""monitor: how far a batch has moved from the data the model was trained on.

The reference is the model version's own training data, read from the DVC cache by the
md5 its registry tags record; labelled batches are also scored against the model's
result on its evaluation data. The report is JSON for machines and self-contained HTML
for people, written under `monitor.report_dir` and logged to an MLflow run.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from mlops_template.config import Config
from mlops_template.core import bootstrap as bs
from mlops_template.core import drift
from mlops_template.core.class_labels import relabelled
from mlops_template.core.evaluation import score
from mlops_template.core.monitor_report import (
    BatchFile,
    ColumnDrift,
    DatasetDrift,
    ModelVersion,
    MonitorReport,
    Performance,
    Reference,
)
from mlops_template.core.raw_rows import BadCells
from mlops_template.core.row_ids import KnownRows
from mlops_template.core.schema import TrainingSchema
from mlops_template.errors import PipelineError
from mlops_template.io import model_versions, registry
from mlops_template.io.atomic import write_json, write_text
from mlops_template.io.batch_files import column_problems, iter_chunks
from mlops_template.io.lineage import file_md5
from mlops_template.io.model_versions import RegisteredVersion
from mlops_template.io.report_runs import log_report_run

JSON_REPORT, HTML_REPORT = "drift.json", "drift.html"


def load_model_data(
    cfg: Config, client: Any, version: str | None, alias: str | None
) -> RegisteredVersion:
    name = cfg.registry.model_name
    ref = model_versions.resolve(client, name, version, alias or cfg.predict.alias)
    return model_versions.load_version(client, ref)


def read_batch(path: Path, schema: TrainingSchema, cfg: Config) -> pd.DataFrame:
    """The batch, checked against the training schema first (a bad one is refused)."""
    problems, _extra, _columns = column_problems(
        path, schema, cfg.predict, cfg.data.id_column, cfg.data.drop_columns
    )
    if problems:
        raise PipelineError("batch refused, not monitored:\n  " + "\n  ".join(problems))
    # iter_chunks refuses a batch without rows or without a single feature value.
    chunks = list(iter_chunks(path, schema, cfg.predict.chunk_rows))
    frame = pa.Table.from_batches(chunks).to_pandas()
    target = schema.target.name
    if target in frame:
        frame[target] = _typed_labels(path, frame[target], schema.target.dtype)
    return frame


def _typed_labels(path: Path, labels: pd.Series, dtype: str) -> pd.Series:
    """Labels typed as in training (a CSV may read "1" as 1 or 1.0); rows without one
    stay missing (not yet labelled), so the column holds both as objects when the
    training type has no gap (int64)."""
    present = labels.notna()
    try:
        typed = labels[present].astype(dtype)
    except (TypeError, ValueError):
        raise PipelineError(
            f"{path}: column '{labels.name}' (the labels) does not hold {dtype} values "
            "as in training"
        ) from None
    return typed if present.all() else typed.astype(object).reindex(labels.index)


def labelled_rows(
    frame: pd.DataFrame, schema: TrainingSchema, keep: str | None = None
) -> pd.DataFrame:
    """The batch's rows that have a label: features and label, the label typed as in
    training, and the column `keep` (split.key, never a feature) where the batch has it."""
    target = schema.target.name
    kept = [keep] if keep in frame and keep not in schema.features else []
    rows = frame.loc[frame[target].notna(), [*schema.features, target, *kept]]
    return rows.astype({target: schema.target.dtype})


def refuse_unseen_classes(frame: pd.DataFrame, schema: TrainingSchema, where: str) -> None:
    """Labels of a class the model was never trained on (after training's drop or merge
    of small classes): the task changed, so a batch is neither monitored nor scored and
    logged by ct, whatever its count (checked before anything is written); the log's
    windows are checked where they are scored, from monitor.min_rows labelled rows."""
    target = schema.target.name
    known = set(schema.target.classes or [])
    if not known or target not in frame:
        return
    labelled = relabelled(labelled_rows(frame, schema), target, schema.target.small_classes)
    if new := sorted(set(labelled[target]) - known, key=str):
        raise PipelineError(
            f"{where}: labels the model was never trained on in '{target}': {new[:10]}; "
            "the task changed: retrain by hand after review (nothing was scored or logged)"
        )


def monitor(cfg: Config, batch: str, version: str | None = None, alias: str | None = None) -> int:
    client = registry.connect()
    champion = load_model_data(cfg, client, version, alias)
    report = drift_report(cfg, champion, Path(batch))
    print(report.summary(champion.schema.target.name), file=sys.stderr)
    return 0


def drift_report(cfg: Config, champion: RegisteredVersion, path: Path) -> MonitorReport:
    """Compare the batch with the model's training data; write and log the report."""
    current = read_batch(path, champion.schema, cfg)
    refuse_unseen_classes(current, champion.schema, str(path))
    try:
        return _compare(cfg, champion, path, current)
    except BadCells as err:  # the model refuses a cell (infinity, text in a date column)
        raise PipelineError(f"{path}: {err}; not monitored") from None


def _compare(
    cfg: Config, champion: RegisteredVersion, path: Path, current: pd.DataFrame
) -> MonitorReport:
    settings = cfg.monitor
    trained = KnownRows(champion.data("train"))
    batch_rows = len(current)
    reference, current = (
        sample(f, settings.max_rows, settings.seed) for f in (trained.frame, current)
    )
    found = assess(cfg, champion, current, reference, trained)
    drawn = {"sampled": len(current)} if len(current) < batch_rows else {}
    report = MonitorReport(
        batch=BatchFile(path=str(path), md5=file_md5(path), rows=batch_rows, **drawn),
        model=ModelVersion(name=champion.ref.name, version=champion.ref.version),
        reference=Reference(md5=champion.data_md5("train"), rows=len(reference)),
        dataset=found.dataset,
        prediction=found.prediction,
        performance=found.performance,
        features=found.features,
        settings=settings.model_dump(),
    )
    _write_and_log(cfg, report, reference, current, found.predicted)
    return report


@dataclass(frozen=True)
class Assessment:
    """What monitoring finds in some rows against the model's training data."""

    features: dict[str, ColumnDrift]
    dataset: DatasetDrift
    prediction: ColumnDrift
    performance: Performance | None
    predicted: tuple[pd.Series, pd.Series]  # the model's predictions: reference, current


def assess(
    cfg: Config,
    champion: RegisteredVersion,
    current: pd.DataFrame,
    reference: pd.DataFrame,
    trained: KnownRows,
) -> Assessment:
    """Drift of each feature, of the rows and of the model's predictions, and the gate's
    metric on the rows that have labels and were not `trained` on (its training data,
    whole; `reference` is a sample of it)."""
    schema = champion.schema
    features = schema.features
    predicted = (
        pd.Series(champion.model.predict(reference[features])),
        pd.Series(champion.model.predict(current[features])),
    )
    check = drift.categorical_drift if schema.task == "classification" else drift.numeric_drift
    by_feature = drift.feature_drift(schema, reference, current, cfg.monitor)
    return Assessment(
        features=by_feature,
        dataset=drift.dataset_drift(by_feature, cfg.monitor.drift_share),
        prediction=check(*predicted, cfg.monitor),
        performance=_performance(cfg, champion, current, reference, trained),
        predicted=predicted,
    )


def _performance(
    cfg: Config,
    champion: RegisteredVersion,
    current: pd.DataFrame,
    reference: pd.DataFrame,
    trained: KnownRows,
) -> Performance | None:
    """The gate's metric on the labelled rows the model did not train on against its
    evaluation-data score, with the batch's bootstrap interval and the trivial baseline
    for scale."""
    schema = champion.schema
    target = schema.target.name
    if target not in current or current[target].isna().all():
        return None
    columns = [*schema.features, target]
    # Labels of the small classes training dropped or merged, read the same way.
    with_labels = labelled_rows(current, schema, keep=cfg.split.key)
    labelled = relabelled(with_labels, target, schema.target.small_classes)
    # A batch cut from the data, or logged rows labelled again, can hold training rows.
    seen_in_training = trained.seen(labelled, cfg.split.key, schema.features, schema.dates)
    # Rows not yet labelled, of dropped classes, or trained on are left out of the score:
    # counted.
    counts = {
        "labelled_rows": int((~seen_in_training).sum()),
        "unlabelled_rows": len(current) - len(with_labels),
        "dropped_class_rows": len(with_labels) - len(labelled),
        "trained_rows": int(seen_in_training.sum()),
    }
    labelled = labelled[~seen_in_training]
    metric = getattr(cfg.gate, schema.task).metric
    too_few = Performance(metric=metric, decision=drift.TOO_FEW, **counts)
    if len(labelled) < cfg.monitor.min_rows:
        return too_few
    refuse_unseen_classes(with_labels, schema, "the inference log's labels")
    evaluation = champion.data("test")
    batch = score(champion.model, labelled, schema)
    if metric not in batch.metrics:  # e.g. roc_auc when the batch holds a single class
        return too_few
    baseline = score(champion.model, evaluation[columns], schema).metrics
    labels = labelled[target].reset_index(drop=True)
    spread = bs.spread(metric, labels, batch.outputs, cfg.gate.bootstrap)
    trivial = bs.trivial_outputs(reference[target], len(evaluation), schema.task)
    trivial_score = bs.metric_value(metric, evaluation[target].reset_index(drop=True), trivial)
    result = drift.performance(
        metric, spread, baseline[metric], round(trivial_score, 6), cfg.monitor.max_metric_drop
    )
    return result.model_copy(
        update={
            **counts,
            "batch_metrics": batch.metrics,
            "baseline_metrics": baseline,
        }
    )


def sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(rows, random_state=seed) if len(frame) > rows else frame


def _write_and_log(cfg, report: MonitorReport, reference, current, predicted) -> None:
    from mlops_template.io.drift_report import render

    folder = Path(cfg.monitor.report_dir)
    html = render(report, reference, current, predicted)  # first: a failure writes neither
    json_path = write_json(folder / JSON_REPORT, report.as_json())
    html_path = write_text(folder / HTML_REPORT, html)
    perf = report.performance
    log_report_run(
        cfg.tracking.operations_experiment,
        f"monitor {Path(report.batch.path).name}",
        tags={
            "pipeline.stage": "monitor",
            "registry.model_version": report.model.version,
            "batch_md5": report.batch.md5,
            "drift.decision": report.dataset.decision,
            "performance": perf.decision if perf else "no labels",
        },
        metrics=report.metrics(),
        files=[json_path, html_path],
        folder="monitor",
    )
