"""What to try when the gate refuses a model that does not beat the trivial baseline.

A classifier trained on imbalanced classes with every row weighed alike often predicts
the majority class and scores the baseline's balanced accuracy: the usual fix is
class_weight=balanced, which the refusal alone does not say.
"""

from __future__ import annotations

from typing import Any

from mlops_template.config.model import AutoModel
from mlops_template.core.shares import percent
from mlops_template.core.validation_report import ValidationReport


def unweighted(model: Any) -> list[str]:
    """The config keys of the model (or model=auto's candidates) that take a class weight
    and have none."""
    models = (
        {f"model.candidates.{name}": c for name, c in model.candidates.items()}
        if isinstance(model, AutoModel)
        else {"model": model}
    )
    return [
        key
        for key, cfg in models.items()
        if "class_weight" in type(cfg).model_fields and cfg.class_weight is None
    ]


def imbalance_hint(failed: list[str], report: ValidationReport, model: Any) -> str | None:
    """A line for a refusal on the baseline check when the smallest class is under 80% of
    its even share (40% of two classes) and the model weighs classes alike; else None."""
    if report.classes is None or report.minority_share is None:
        return None
    if not any(check.startswith("baseline:") for check in failed):
        return None
    if report.minority_share >= 0.8 / len(report.classes) or not (keys := unweighted(model)):
        return None
    overrides = " ".join(f"-S {key}.class_weight=balanced" for key in keys)
    return (
        f"hint: the smallest class is {percent(report.minority_share)} of the labelled rows "
        "and the model weighs every row alike, so it may predict the majority class; try "
        f"`dvc exp run {overrides}`, then `make promote` again"
    )
