"""The promotion report: what promote decided and every number behind it, as written to
reports/promotion.json, logged with the gate's run and read by ct."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from mlops_template.core.bootstrap import Paired
from mlops_template.core.gate_checks import Decision


@dataclass(frozen=True)
class PromotionReport:
    model_name: str
    task: str
    candidate: dict[str, str]  # its model URI and the lineage a registered version gets
    champion_version: str | None  # the champion it was compared with
    registered_version: str | None  # the candidate's version (None until registered)
    evaluation_data: dict[str, Any]  # path, md5 and row counts
    gate: dict[str, Any]  # the gate's settings for the task, and the bootstrap's
    decision: Decision
    candidate_metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] | None = None
    comparisons: dict[str, Paired] = field(default_factory=dict)
    already_champion: bool = False  # the candidate is the champion: nothing compared
    dry_run: bool = False

    def but(self, **changes: Any) -> PromotionReport:
        return replace(self, **changes)

    @property
    def metric(self) -> str:
        return self.gate["metric"]

    def as_json(self) -> dict[str, Any]:
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return {
            **fields,
            "comparisons": {name: p.as_json() for name, p in self.comparisons.items()},
            "decision": self.decision.as_json(),
        }
