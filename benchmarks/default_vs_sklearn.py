"""The template's default model against plain scikit-learn on the bundled data sets.

For each bundled set (`conf/data/*.yaml` with `source: sklearn`): the template's default
model (`conf/` composed with `data=<set>`, built as the train stage builds it, so
model=auto chooses its learner by cross-validation on the training rows) and two plain
baselines, sklearn's HistGradientBoosting with its defaults and LogisticRegression /
Ridge on standardised features, all fitted on the same training rows and scored on the
same test rows. The metric is the gate's default: balanced_accuracy for classification,
rmse for regression.

First on the pipeline's own split, with `noise`: the half-width of a 95 % paired
bootstrap interval of the gap (on a test set of a few dozen rows, a gap inside it is no
difference). Then the mean over SPLITS split seeds, which is what the verdict reads: the
template's gap to the better baseline (the one with the better mean) is OK when at most
2 % worse, else WORSE (exit code 1). `se` is the standard error of that mean gap.

    python benchmarks/default_vs_sklearn.py                             # the default
    python benchmarks/default_vs_sklearn.py model=hist_gradient_boosting  # Hydra overrides
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlops_template.compose import compose_text
from mlops_template.config import Config, parse_config
from mlops_template.core.models import model_for_rows
from mlops_template.core.split import split_frame
from mlops_template.core.target import infer_task
from mlops_template.io.datasets import load_source

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 0.02  # the template's default may be this much worse than the bar
BOOTSTRAP = 2000
SPLITS = 10  # split seeds 0..9 for the mean
OVERRIDES: list[str] = []  # Hydra overrides on top of conf/, to measure another config


def bundled_sets() -> list[str]:
    conf = sorted((ROOT / "conf" / "data").glob("*.yaml"))
    return [p.stem for p in conf if yaml.safe_load(p.read_text()).get("source") == "sklearn"]


def composed(name: str) -> Config:
    return parse_config(yaml.safe_load(compose_text(ROOT, [f"data={name}", *OVERRIDES])))


def plain_baselines(task: str, seed: int) -> dict:
    if task == "classification":
        return {
            "hgb": HistGradientBoostingClassifier(random_state=seed),
            "linear": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
        }
    return {
        "hgb": HistGradientBoostingRegressor(random_state=seed),
        "linear": make_pipeline(StandardScaler(), Ridge()),
    }


def weighted_metric(task: str, y: np.ndarray, pred: np.ndarray, weights: np.ndarray):
    """The metric under each row of `weights` (bootstrap counts per test row)."""
    if task == "regression":
        return np.sqrt(weights @ (y - pred) ** 2 / weights.sum(axis=1))
    recalls = [(weights @ ((y == c) & (pred == c))) / (weights @ (y == c)) for c in np.unique(y)]
    return np.nanmean(recalls, axis=0)  # balanced accuracy: the mean recall per class


def gap(task: str, ours, bar):
    """How much worse the template is than the bar, as a fraction of the bar."""
    return (ours - bar) / bar if task == "regression" else (bar - ours) / bar


def fit_and_score(name: str, split_seed: int | None = None) -> dict:
    """Fit the template and the baselines on one split; their test metrics and outputs."""
    cfg = composed(name)
    if split_seed is not None:
        cfg = cfg.model_copy(update={"split": cfg.split.model_copy(update={"seed": split_seed})})
    frame = load_source(cfg.data, cfg.read)
    target = cfg.data.target
    task = infer_task(frame[target], cfg.data.task, cfg.validate_.max_classes).task
    train, test = split_frame(frame, target, task, cfg.split)
    template, x_train, y, *_ = model_for_rows(cfg, train, target, task)
    x_test = test[x_train.columns]
    y_train, y_test = y.to_numpy(), test[target].to_numpy()
    models = {"template": template, **plain_baselines(task, cfg.train.seed)}
    preds = {key: model.fit(x_train, y_train).predict(x_test) for key, model in models.items()}
    whole = np.ones((1, len(y_test)))
    scores = {key: float(weighted_metric(task, y_test, p, whole)[0]) for key, p in preds.items()}
    return {"task": task, "y": y_test, "preds": preds, "scores": scores}


def compare(name: str) -> dict:
    one = fit_and_score(name)
    task, y_test, preds, scores = one["task"], one["y"], one["preds"], one["scores"]
    better = min if task == "regression" else max
    bar = better(("hgb", "linear"), key=scores.__getitem__)
    rng = np.random.default_rng(0)
    weights = rng.multinomial(len(y_test), np.full(len(y_test), 1 / len(y_test)), BOOTSTRAP)
    gaps = gap(
        task,
        weighted_metric(task, y_test, preds["template"], weights),
        weighted_metric(task, y_test, preds[bar], weights),
    )
    low, high = np.nanpercentile(gaps, [2.5, 97.5])
    repeated = pd.DataFrame([fit_and_score(name, seed)["scores"] for seed in range(SPLITS)])
    mean = repeated.mean()
    mean_bar = better(("hgb", "linear"), key=mean.__getitem__)
    split_gaps = gap(task, repeated["template"], repeated[mean_bar])
    return {
        "set": name,
        "metric": "rmse" if task == "regression" else "balanced_accuracy",
        "n_test": len(y_test),
        **scores,
        "gap": gap(task, scores["template"], scores[bar]),
        "noise": (high - low) / 2,
        **{f"mean_{key}": value for key, value in mean.items()},
        "mean_gap": gap(task, mean["template"], mean[mean_bar]),
        "se": float(split_gaps.std(ddof=1) / np.sqrt(SPLITS)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model=linear")
    OVERRIDES[:] = parser.parse_args().overrides
    start = time.perf_counter()
    rows = pd.DataFrame([compare(name) for name in bundled_sets()])
    rows["verdict"] = np.where(rows["mean_gap"] <= TOLERANCE, "OK", "WORSE")
    names = ("template", "sk hgb", "sk linear")
    head = f"{'data set':<14} {'metric':<18} " + " ".join(f"{n:>9}" for n in names) + f" {'gap':>7}"
    print(f"the pipeline's split (split.seed from conf/)\n{head} {'noise':>7} {'test rows':>9}")
    for r in rows.itertuples():
        print(
            f"{r.set:<14} {r.metric:<18} {r.template:>9.4g} {r.hgb:>9.4g} {r.linear:>9.4g} "
            f"{r.gap:>+7.1%} {r.noise:>6.1%} {r.n_test:>9}"
        )
    print(f"\nthe mean over {SPLITS} split seeds\n{head} {'se':>7}  verdict")
    for r in rows.itertuples():
        print(
            f"{r.set:<14} {r.metric:<18} {r.mean_template:>9.4g} {r.mean_hgb:>9.4g} "
            f"{r.mean_linear:>9.4g} {r.mean_gap:>+7.1%} {r.se:>6.1%}  {r.verdict}"
        )
    print(
        f"gap: how much worse the template's default is than the better plain baseline "
        f"(positive: worse; OK up to {TOLERANCE:.0%} on the mean); noise: half-width of the "
        "95 % paired bootstrap interval on the one split; se: standard error of the mean gap"
    )
    print(f"{time.perf_counter() - start:.1f} s to compose, load, split, fit and score")
    return int((rows["verdict"] == "WORSE").any())


if __name__ == "__main__":
    sys.exit(main())
