"""The continuous-training loop's report, typed: what the batch showed, each retraining
try with the gate's verdict, and the outcome; with its Markdown (the PR body on
promotion, the issue on alert) and its reasons for an alert."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mlops_template.core.monitor_report import BatchFile, ModelVersion, Performance


class Try(BaseModel):
    """One retraining: its overrides, the version it registered and the gate's verdict."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    attempt: int = Field(alias="try")
    overrides: list[str]
    version: str | None
    promoted: bool
    metric: str
    candidate: float | None  # the gate's metric, where the gate compared the two
    champion: float | None
    failed_checks: list[str]
    reasons: list[str]

    def line(self) -> str:
        why = "; ".join(self.reasons) or ", ".join(self.failed_checks)
        return f"try {self.attempt} ({self._overrides('current config')}, v{self.version}): {why}"

    def row(self) -> str:
        return (
            f"| {self.attempt} | {self._overrides('(current)')} | {self.version} | "
            f"{self.candidate} | {self.champion} | {self.promoted} | "
            f"{', '.join(self.failed_checks)} |"
        )

    def _overrides(self, none: str) -> str:
        return " ".join(self.overrides) or none


class CtReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch: BatchFile
    champion: ModelVersion
    drift: str
    performance: Performance | None
    tries: list[Try]
    outcome: str | None = None
    reasons: list[str] | None = None  # set on an alert
    trigger: list[str] | None = None  # from the inference log: each window, and the verdict
    notes: list[str] | None = None  # why nothing was tried, when nothing was

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def alert_reasons(self) -> list[str]:
        """Why the loop alerts: the batch's drop, each try's verdict, no new champion."""
        lines = list(self.trigger or [])
        if not self.trigger and (perf := self.performance) and perf.batch is not None:
            lines.append(
                f"{perf.metric} on {self.batch.path} is {perf.batch:.4f} against "
                f"{perf.baseline:.4f} on the evaluation data (drop {perf.drop:.4f} > "
                f"{perf.max_drop}); drift: {self.drift}"
            )
        lines += self.notes or []
        lines += [tried.line() for tried in self.tries]
        lines.append(f"champion {self.champion.name} v{self.champion.version} unchanged")
        return lines

    def _source(self) -> str:
        batch = self.batch
        if self.trigger is not None:  # ct --log: the rows it would add, or the log's
            return f"The inference log `{batch.path}` ({batch.rows} rows)"
        return f"Batch `{batch.path}` ({batch.rows} rows, md5 `{batch.md5}`)"

    def markdown(self) -> str:
        champion = self.champion
        lines = [
            f"**Outcome: {self.outcome}**",
            "",
            f"{self._source()}, champion {champion.name} v{champion.version}; drift: {self.drift}.",
            "",
        ]
        if self.trigger:
            lines += ["The inference log, by window:", "", *(f"- {t}" for t in self.trigger), ""]
        elif (perf := self.performance) and perf.batch is not None:
            lines += [
                f"{perf.metric}: {perf.batch:.4f} on the batch against {perf.baseline:.4f} "
                f"on the evaluation data ({perf.decision}; {perf.why()}).",
                "",
            ]
        if self.tries:
            lines += [
                f"| try | overrides | version | {self.tries[0].metric} | champion | promoted "
                "| failed checks |",
                "|---|---|---|---|---|---|---|",
                *(tried.row() for tried in self.tries),
                "",
            ]
        lines += [f"- {line}" for line in self.reasons or []]
        return "\n".join(lines).rstrip() + "\n"
