"""The gate's checks, each with the numbers behind it and, failed, a reason for people,
and the decision they make up (core/gate.py decides)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Discriminator, Tag


class _Check(BaseModel):
    """One check of the gate, with the numbers behind it; REASON says, for people, why
    it failed (formatted with the check's fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    REASON: ClassVar[str]
    check: str  # its kind, and the metric: "improvement:f1_macro"
    passed: bool

    def reason(self) -> str:
        return self.REASON.format(**self._words())

    def _words(self) -> dict[str, Any]:
        return dict(self)


class Threshold(_Check):
    REASON = "{metric} = {value} is outside {bound}"
    metric: str
    value: float | None
    min: float | None
    max: float | None

    def _words(self) -> dict[str, Any]:
        sides = (("min", self.min), ("max", self.max))
        bound = " and ".join(f"{side} {limit}" for side, limit in sides if limit is not None)
        return {**dict(self), "bound": bound}


class _Paired(_Check):
    """bootstrap.paired on the same rows, the candidate first; `lead` is the other
    model's margin over the trivial one there."""

    metric: str
    rows: int
    candidate: float
    improvement: float
    interval: tuple[float, float]
    verdict: str
    lead: float | None = None

    def _words(self) -> dict[str, Any]:
        low, high = self.interval
        numbers = f"improvement {self.improvement}, interval [{low}, {high}], {self.rows} rows"
        return {**dict(self), "numbers": numbers}


class Baseline(_Paired):
    REASON = (
        "{metric}: candidate {candidate} does not beat the trivial baseline (majority class "
        "or mean) {baseline} beyond noise ({numbers})"
    )
    baseline: float


class Improvement(_Paired):
    REASON = (
        "{metric}: candidate {candidate} vs champion {champion} on rows neither trained on: "
        "{verdict} ({numbers}; needs better beyond noise by >= {required})"
    )
    champion: float
    required: float


class Holdout(_Paired):
    REASON = (
        "{metric} on the champion's held-out data: candidate {candidate} vs champion "
        "{champion}, clearly worse ({numbers}; allowed drop {allowed_drop})"
    )
    champion: float
    allowed_drop: float


class Shadow(_Paired):
    REASON = (
        "{metric} on {rows} logged requests with labels, answered by champion "
        "v{served_version} and scored by the candidate in shadow: candidate {candidate} vs "
        "champion {champion}: {verdict} ({numbers}; needs {require})"
    )
    champion: float
    served_version: str
    require: str


class NoShadow(_Check):
    REASON = "{detail}"
    detail: str


class NoChampion(_Check):
    REASON = "{detail}"
    detail: str


class RolledBack(_Check):
    REASON = (
        "v{version} was rolled back (champion v{version} -> v{to}, by {actor}): a rolled-back "
        "version is not promoted again; a new model that beats the champion is, and "
        "`rollback --to {version}` crowns it deliberately"
    )
    version: str
    to: str
    actor: str


class NotComparable(_Check):
    REASON = (
        "{detail}; the two cannot be compared on the same rows: promote registers the "
        "candidate as challenger, and after review `rollback --to VERSION --force` with its "
        "version crowns it deliberately"
    )
    detail: str


class AlreadyChampion(_Check):
    REASON = "v{version} is already champion"
    version: str


def _kind(check: Any) -> str:
    name = check["check"] if isinstance(check, dict) else check.check
    return name.split(":")[0]


Check = Annotated[
    Annotated[Threshold, Tag("threshold")]
    | Annotated[Baseline, Tag("baseline")]
    | Annotated[Improvement, Tag("improvement")]
    | Annotated[Holdout, Tag("holdout")]
    | Annotated[Shadow, Tag("shadow")]
    | Annotated[NoShadow, Tag("shadow_evidence")]
    | Annotated[NoChampion, Tag("champion")]
    | Annotated[AlreadyChampion, Tag("already_champion")]
    | Annotated[RolledBack, Tag("rolled_back")]
    | Annotated[NotComparable, Tag("comparable")],
    Discriminator(_kind),
]


class Decision(BaseModel):
    """Whether the candidate may become champion, and every check behind it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    promote: bool
    checks: list[Check]

    def reasons(self) -> list[str]:
        """One line per failed check, for people."""
        return [check.reason() for check in self.checks if not check.passed]

    def failed(self) -> list[str]:
        return [check.check for check in self.checks if not check.passed]

    def check(self, kind: str) -> Any | None:
        """The check of a kind ("improvement"), if the gate made one."""
        return next((c for c in self.checks if _kind(c) == kind), None)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)
