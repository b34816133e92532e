"""tune=optuna: search a learner's settings by cross-validation on the training rows.

Every trial is scored as model=auto scores a candidate (core/cross_validation.py): the
training rows' folds, or one hold-out split of large data; the test rows never reach
here. The first trial is the config's own settings, so the best is never worse on the
training rows than no search. Optuna's TPE sampler is seeded and trials run one after
another, so the same rows, config and seed give the same trials. A trial whose mean
fold score falls below the median of earlier trials at the same fold is stopped there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlops_template.config import Config, Tune
from mlops_template.config.model import Estimator, Space
from mlops_template.core.bootstrap import Outputs, metric_value
from mlops_template.core.cross_validation import (
    Cost,
    FoldOutputs,
    FoldRows,
    Folds,
    PreparedFolds,
    assemble,
    classes_of,
    fit_fold,
    out_of_fold,
)
from mlops_template.core.estimators import check_search_fits_task
from mlops_template.core.learner_adapters import library_refusal
from mlops_template.errors import PipelineError
from mlops_template.metric_names import LOWER_IS_BETTER, STOPPED_BY_TIME, improvement

COMPLETE, PRUNED, FAILED = "complete", "pruned", "failed"


@dataclass(frozen=True)
class Trial:
    """One point of a search: its settings and how the training rows scored it."""

    number: int
    settings: dict[str, Any]
    state: str
    score: float | None  # over every scored row; None when pruned or failed
    fold_scores: tuple[float, ...]
    why: str = ""  # a failed trial's error


@dataclass(frozen=True)
class Search:
    """The trials of one learner's search and the settings it chose."""

    key: str  # where the learner sits in the config: model, model.candidates.<name>
    settings_key: str  # where its settings sit: the key, or its params for `type: sklearn`
    metric: str
    scheme: str
    own_score: float  # the config's own settings (the first trial)
    best_score: float
    best: dict[str, Any]  # the settings that scored best; {} when no trial beat the own
    trials: tuple[Trial, ...]
    stopped_by_time: bool
    cost: Cost = field(default_factory=Cost, compare=False)

    def overrides(self) -> dict[str, Any]:
        """The best settings as config keys (a `type: sklearn` model's under params)."""
        return {f"{self.settings_key}.{name}": value for name, value in self.best.items()}

    def summary(self) -> str:
        done = sum(t.state == COMPLETE for t in self.trials)
        pruned = sum(t.state == PRUNED for t in self.trials)
        failed = sum(t.state == FAILED for t in self.trials)
        counts = f"{len(self.trials)} trials ({done} complete, {pruned} pruned"
        counts += f", {failed} failed)" if failed else ")"
        line = f"tune=optuna searched {self.key}: {counts} by {self.scheme}; {self.metric} "
        if self.best:
            line += f"{self.best_score:.6g} against the config's own {self.own_score:.6g}"
            line += " with " + ", ".join(f"{k}={_shown(v)}" for k, v in self.best.items())
        else:
            line += f"{self.own_score:.6g}: no trial beat the config's own settings"
        if self.stopped_by_time:
            line += "; stopped by tune.timeout, so another machine may search further"
        return line


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else repr(value)


def suggest(trial: Any, name: str, space: Space) -> Any:
    if space.choices is not None:
        return trial.suggest_categorical(name, space.choices)
    if space.integers:
        return trial.suggest_int(name, int(space.low), int(space.high), log=space.log)  # type: ignore[arg-type]
    return trial.suggest_float(name, float(space.low), float(space.high), log=space.log)  # type: ignore[arg-type]


def _fold_score(metric: str, y: pd.Series, part: FoldOutputs, classes: list | None) -> float:
    held = y[part.held].reset_index(drop=True)
    return metric_value(metric, held, Outputs(part.predicted, part.proba, classes))


def _fold_outputs(
    trial: Any,
    estimator: Any,
    prepared: list[FoldRows],
    folds: Folds,
    *,
    classes: list | None,
    score: Callable[[FoldOutputs], float],
    prune: bool,
    n_jobs: int,
) -> tuple[list[FoldOutputs], list[float], bool]:
    """A trial's estimator on each fold: its outputs, its fold scores, and whether it was
    stopped after a fold (it is then worse than the median of earlier trials there)."""
    if n_jobs != 1 and len(prepared) > 1:  # folds at once: nothing to stop between them
        _, parts = out_of_fold(estimator, prepared, folds, classes, n_jobs=n_jobs)
        return parts, [score(p) for p in parts], False
    parts, scores = [], []
    for step, rows in enumerate(prepared):
        parts.append(fit_fold(estimator, rows, classes))
        scores.append(score(parts[-1]))
        if prune and step < len(prepared) - 1:
            trial.report(float(np.mean(scores)), step)
            if trial.should_prune():
                return parts, scores, True
    return parts, scores, False


def search(
    key: str,
    config: Estimator,
    pipeline_for: Callable[[Estimator], Any],
    y: pd.Series,
    *,
    folds: Folds,
    prepared: list[FoldRows],
    classes: list | None,
    metric: str,
    tune: Tune,
    n_jobs: int = 1,
) -> Search:
    """Search `config.search` for `key`'s learner. `pipeline_for(config)` checks a config
    and builds its unfitted pipeline (its preprocessing is the one `prepared` holds)."""
    import optuna

    check_search_fits_task(config, "regression" if classes is None else "classification", key)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    scored = y[folds.scored].reset_index(drop=True)
    trials: list[Trial] = []
    cost = Cost()

    def objective(trial: Any) -> float:
        own = trial.number == 0
        # The first trial is the config's own settings: nothing sampled for it.
        settings = {} if own else {n: suggest(trial, n, v) for n, v in config.search.items()}
        try:
            estimator = pipeline_for(config.with_settings(settings))[-1]
            start = time.perf_counter()
            parts, fold_scores, pruned = _fold_outputs(
                trial,
                estimator,
                prepared,
                folds,
                classes=classes,
                score=lambda part: _fold_score(metric, y, part, classes),
                prune=tune.prune and not own,
                n_jobs=n_jobs,
            )
        except Exception as err:  # a point the learner or its library refuses
            why = (
                err
                if isinstance(err, PipelineError)
                else library_refusal(err, f"{key}.search", sklearn=not own)
            )
            if why is None:
                raise
            trials.append(Trial(trial.number, settings, FAILED, None, (), str(why)))
            raise optuna.TrialPruned() from None
        cost.add(len(parts), time.perf_counter() - start)
        if pruned:
            trials.append(Trial(trial.number, settings, PRUNED, None, tuple(fold_scores)))
            raise optuna.TrialPruned()
        score = metric_value(metric, scored, assemble(parts, folds, classes))
        trials.append(Trial(trial.number, settings, COMPLETE, score, tuple(fold_scores)))
        return score

    study = optuna.create_study(
        direction="minimize" if metric in LOWER_IS_BETTER else "maximize",
        sampler=optuna.samplers.TPESampler(seed=tune.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0),
    )
    start = time.perf_counter()
    study.optimize(objective, n_trials=tune.trials, timeout=tune.timeout)
    if not trials or trials[0].state != COMPLETE:
        why = trials[0].why if trials else "no trial ran"
        raise PipelineError(f"tune=optuna: {key} cannot be scored as configured: {why}")
    own = trials[0].score
    best = trials[0]
    for trial in trials[1:]:  # strictly better only: ties keep the config's own settings
        if trial.state == COMPLETE and improvement(metric, trial.score, best.score) > 0:  # type: ignore[arg-type]
            best = trial
    timed_out = tune.timeout is not None and len(trials) < tune.trials
    cost.seconds = time.perf_counter() - start
    return Search(
        key=key,
        settings_key=f"{key}.params" if config.type == "sklearn" else key,
        metric=metric,
        scheme=folds.describe(),
        own_score=round(own, 6),  # type: ignore[arg-type]
        best_score=round(best.score, 6),  # type: ignore[arg-type]
        best=best.settings,
        trials=tuple(trials),
        stopped_by_time=timed_out,
        cost=cost,
    )


def tuned(
    cfg: Config,
    learners: dict[str, Estimator],
    pipeline_for: Callable[[str, Estimator, pd.Series], Any],
    prepared: PreparedFolds,
    *,
    task: str,
) -> tuple[dict[str, Estimator], tuple[Search, ...]]:
    """Each learner with a search space, searched on the training rows' folds; the
    learners with the settings their searches chose."""
    y = prepared.y
    chosen, searches = dict(learners), []
    for key, config in learners.items():
        if not config.search:
            continue
        try:  # as model=auto checks a candidate: on each fold's rows (early stopping's hold-out)
            for target in prepared.fit_targets():
                pipeline_for(key, config, target)
        except PipelineError as err:
            if key == "model":
                why = f"tune=optuna cannot score {key} on train.cv's folds: {err}"
                raise PipelineError(why) from None
            continue  # model=auto leaves this candidate out, and says why
        pipeline = pipeline_for(key, config, y)
        result = search(
            key,
            config,
            lambda settings, key=key: pipeline_for(key, settings, y),
            y,
            folds=prepared.folds,
            prepared=prepared.rows(pipeline[:-1]),
            classes=classes_of(y, task),
            metric=getattr(cfg.gate, task).metric,
            tune=cfg.tune,
            n_jobs=cfg.train.cv.n_jobs,
        )
        chosen[key] = config.with_settings(result.best)
        searches.append(result)
    return chosen, tuple(searches)


def tuned_params_text(searches: tuple[Search, ...], method: str) -> str:
    """reports/tuned_params.yaml: each search's chosen settings as config keys."""
    import yaml

    chosen = {key: value for s in searches for key, value in s.overrides().items()}
    if method == "none":
        head = "# tune=none: no search ran; the model's settings are conf/'s.\n"
    else:
        head = "".join(f"# {s.summary()}\n" for s in searches) or "# no learner has a search\n"
        head += (
            "# Keep them in conf/ with `python -m mlops_template tune keep`; then tune=none\n"
            "# trains with them, without a search.\n"
            if chosen
            else "# Nothing to keep: conf/'s own settings stay as they are.\n"
        )
    return head + yaml.safe_dump(chosen, sort_keys=False, default_flow_style=False)


def cv_scores(metric: str, score: float | None, stopped_by_time: bool = False) -> dict:
    """reports/cv.json: the trained model's cross-validated score, if it has one, and
    whether a search behind it was stopped by tune.timeout."""
    if score is None:
        return {}
    return {f"cv_{metric}": score, **({STOPPED_BY_TIME: True} if stopped_by_time else {})}
