"""model=auto: choose the learner by cross-validation on the training rows.

No single learner wins on tabular data: boosted trees need rows, a linear model wins on
small, smooth data. Each candidate is fitted once per fold of the TRAINING rows (or on one
hold-out split of large data; core/cross_validation.py), each time without that fold, and
judged on the gate's metric over the out-of-fold predictions: the test rows never take
part in the choice. The paired bootstrap says whether the winner is better than the
runner-up or only within noise (then the choice is a coin the data cannot call, and the
report says so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mlops_template.config import CrossValidation
from mlops_template.config.model import AutoModel, Estimator
from mlops_template.config.release import Bootstrap
from mlops_template.core.bootstrap import NOISE, Outputs, Paired, metric_value, paired
from mlops_template.core.cross_validation import (
    Cost,
    PreparedFolds,
    classes_of,
    fitted_pipeline,
    out_of_fold,
)
from mlops_template.errors import PipelineError
from mlops_template.metric_names import improvement

# Resamples for "the lead is within noise": a rough call, which on a hold-out split of
# 200,000 rows took 2 s with the gate's 1,000.
SELECTION_SAMPLES = 200


@dataclass(frozen=True)
class Selection:
    """Which candidate was chosen, and the cross-validated scores behind the choice."""

    chosen: str
    metric: str
    scores: dict[str, float]  # the metric over out-of-fold predictions, per candidate
    scheme: str  # how the rows scored them: "3-fold cross-validation on 437 training rows"
    folds: int
    rows: int
    versus: Paired | None  # paired bootstrap, chosen against the runner-up
    skipped: dict[str, str]  # candidates a fold was too small for, and why
    cost: Cost = field(default_factory=Cost, compare=False)
    # On a hold-out split, the chosen pipeline as fitted on the split's other rows.
    fitted: Any = field(default=None, compare=False)

    def metrics(self) -> dict[str, float]:
        """For the train run: each candidate's cross-validated score."""
        return {f"cv_{self.metric}.{name}": score for name, score in self.scores.items()}

    def summary(self) -> str:
        ranked = ", ".join(f"{name} {score:.6g}" for name, score in self.scores.items())
        line = f"model=auto chose {self.chosen} by {self.scheme} ({self.metric}: {ranked})"
        if self.versus and self.versus.verdict == NOISE:
            line += "; the lead is within noise, so another choice would do as well"
        for name, why in self.skipped.items():
            line += f"; skipped {name}, a fold is too small for it: {why}"
        return line


def select(
    auto: AutoModel,
    pipeline_for: Callable[[str, Estimator, pd.Series], Any],
    prepared: PreparedFolds,
    *,
    task: str,
    metric: str,
    cv: CrossValidation,
    noise: Bootstrap,
) -> Selection:
    """Cross-validate every candidate. `pipeline_for(name, config, target)` checks that
    the config can train on `target` (raising a PipelineError naming the key) and builds
    the unfitted pipeline. A config that cannot train on the training rows is an error; one
    that only a fold is too small for (early stopping with a class of a few rows) is
    skipped, and said so, unless every candidate is."""
    folds, y = prepared.folds, prepared.y
    scored = y[folds.scored].reset_index(drop=True)
    classes = classes_of(y, task)
    outputs: dict[str, Outputs] = {}
    scores, skipped, cost = {}, {}, Cost()
    fitted = {}
    for name, config in auto.candidates.items():
        pipeline = pipeline_for(name, config, y)
        try:
            for target in prepared.fit_targets():
                pipeline_for(name, config, target)
        except PipelineError as err:
            skipped[name] = str(err)
            continue
        rows = prepared.rows(pipeline[:-1])
        outputs[name], parts = out_of_fold(
            pipeline[-1], rows, folds, classes, n_jobs=cv.n_jobs, cost=cost
        )
        # On a hold-out split of every row (not of a sample) the candidate's fit may be
        # the model, if it saw every class (all rows of a rare one may fall in the
        # hold-out): else it is refitted.
        seen = getattr(parts[0].model, "classes_", None)
        whole = folds.holdout and not folds.sampled
        if whole and (classes is None or set(seen.tolist()) == set(classes)):
            fitted[name] = fitted_pipeline(rows[0], parts[0])
        scores[name] = metric_value(metric, scored, outputs[name])
    if not scores:
        raise PipelineError(
            f"model=auto: no candidate can be cross-validated in train.cv.folds="
            f"{cv.folds} folds of {len(y)} training rows ({'; '.join(skipped.values())}); "
            "set train.cv.folds lower, or choose one model (model=linear)"
        )
    # Best first (improvement over 0 orients the metric); ties keep the listed order.
    ranked = sorted(scores, key=lambda n: improvement(metric, 0.0, scores[n]))
    chosen = ranked[0]
    versus = None
    if len(ranked) > 1:
        rough = noise.model_copy(update={"samples": min(noise.samples, SELECTION_SAMPLES)})
        versus = paired(metric, scored, outputs[chosen], outputs[ranked[1]], rough)
    return Selection(
        chosen=chosen,
        metric=metric,
        scores={n: round(scores[n], 6) for n in ranked},
        scheme=folds.describe(),
        folds=len(folds.numbers),
        rows=len(y),
        versus=versus,
        skipped=skipped,
        cost=cost,
        fitted=fitted.get(chosen),
    )
