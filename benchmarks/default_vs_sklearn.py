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

Time: the template's training (model=auto's choice and the final fit, as `train` runs
them) against one plain gradient-boosting fit on the same rows, each the fastest of
REPEATS runs when under a second, the median over the split seeds; at most TIME_BAR
times is OK, else SLOW (exit code 1). Then a generated set of --rows rows
(`data=synthetic`: numeric and categorical columns with missing values), and a generated
table of 20,000 rows with a column of 5,000 levels and a free-text one (the template
reads them by target encoding and TF-IDF; plain boosting gets the levels as numbers, the
linear baseline one-hot), each on one split: their test sets are large
enough to read alone. The text table's time is shown, not judged.

    python benchmarks/default_vs_sklearn.py                             # the default
    python benchmarks/default_vs_sklearn.py --rows 0 --no-text          # bundled sets only
    python benchmarks/default_vs_sklearn.py model=hist_gradient_boosting  # Hydra overrides
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_template.compose import compose_text
from mlops_template.config import Config, parse_config
from mlops_template.core.cross_validation import threads_for
from mlops_template.core.dataset_checks import check_dataset
from mlops_template.core.models import model_for_rows
from mlops_template.core.split import split_frame
from mlops_template.io.datasets import load_source

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 0.02  # the template's default may be this much worse than the bar
TIME_BAR = 3.0  # and take at most this many times one plain gradient-boosting fit
BOOTSTRAP = 2000
SPLITS = 10  # split seeds 0..9 for the mean
REPEATS = 3  # runs of a fit under a second, the fastest timed
MAX_NATIVE_LEVELS = 255  # sklearn's boosting takes no categorical of more levels
# A generated table with a column of many levels and a free-text one (core/synthetic.py).
TEXT_LABEL = "text+5000 levels"
TEXT_SET = ("data.n_rows=20000", "data.n_levels=5000", "data.text=true", "data.task=regression")
OVERRIDES: list[str] = []  # Hydra overrides on top of conf/, to measure another config


def bundled_sets() -> list[str]:
    conf = sorted((ROOT / "conf" / "data").glob("*.yaml"))
    return [p.stem for p in conf if yaml.safe_load(p.read_text()).get("source") == "sklearn"]


def composed(name: str, extra: tuple[str, ...] = ()) -> Config:
    overrides = [f"data={name}", *extra, *OVERRIDES]
    return parse_config(yaml.safe_load(compose_text(ROOT, overrides)))


def plain_baselines(task: str, seed: int) -> dict:
    """sklearn's gradient boosting with its defaults (text columns as its native
    categoricals), and a linear model on standardised numbers and one-hot text."""
    numeric = make_pipeline(SimpleImputer(), StandardScaler())
    text = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    scaled = make_column_transformer(
        (numeric, make_column_selector(dtype_include="number")),
        (text, make_column_selector(dtype_exclude="number")),
    )
    if task == "classification":
        return {
            "hgb": HistGradientBoostingClassifier(random_state=seed),
            "linear": make_pipeline(scaled, LogisticRegression(max_iter=5000)),
        }
    return {
        "hgb": HistGradientBoostingRegressor(random_state=seed),
        "linear": make_pipeline(scaled, Ridge()),
    }


def as_categories(x: pd.DataFrame, codes: dict[str, list]) -> pd.DataFrame:
    """Text columns as pandas categoricals, what sklearn's boosting takes natively; those
    with more levels than it takes (`codes`: their training levels) as level numbers."""
    text = [c for c in x.columns if not pd.api.types.is_numeric_dtype(x[c]) and c not in codes]
    x = x.astype(dict.fromkeys(text, "category"))
    for name, levels in codes.items():
        x[name] = pd.Categorical(x[name], categories=levels).codes.astype(float)
        x.loc[x[name] < 0, name] = np.nan  # unseen or missing
    return x


def too_many_levels(x: pd.DataFrame) -> dict[str, list]:
    """The text columns sklearn's boosting cannot take as categoricals, with their levels."""
    return {
        c: sorted(x[c].dropna().unique())
        for c in x.columns
        if not pd.api.types.is_numeric_dtype(x[c]) and x[c].nunique() > MAX_NATIVE_LEVELS
    }


def timed(fit) -> tuple[float, Any]:
    """Seconds `fit()` takes, and what its last run returned: under a second, the fastest
    of REPEATS runs (timeit's convention: the fastest run is the one the rest of the
    machine disturbed least; the bundled sets' fits take tens of milliseconds). Both
    sides are timed so."""
    runs = []
    while len(runs) < REPEATS and sum(runs) < 1.0:
        start = time.perf_counter()
        result = fit()
        runs.append(time.perf_counter() - start)
    return min(runs), result


def weighted_metric(task: str, y: np.ndarray, pred: np.ndarray, weights: np.ndarray):
    """The metric under each row of `weights` (bootstrap counts per test row)."""
    if task == "regression":
        return np.sqrt(weights @ (y - pred) ** 2 / weights.sum(axis=1))
    recalls = [(weights @ ((y == c) & (pred == c))) / (weights @ (y == c)) for c in np.unique(y)]
    return np.nanmean(recalls, axis=0)  # balanced accuracy: the mean recall per class


def gap(task: str, ours, bar):
    """How much worse the template is than the bar, as a fraction of the bar."""
    return (ours - bar) / bar if task == "regression" else (bar - ours) / bar


def fit_and_score(name: str, split_seed: int | None = None, extra: tuple[str, ...] = ()) -> dict:
    """Fit the template and the baselines on one split; their test metrics and outputs,
    and the template's training time against one plain gradient-boosting fit."""
    cfg = composed(name, extra)
    if split_seed is not None:
        cfg = cfg.model_copy(update={"split": cfg.split.model_copy(update={"seed": split_seed})})
    frame = load_source(cfg.data, cfg.read)
    target = cfg.data.target
    # What validate sees: the task, the columns that name rows, how text is read.
    seen = check_dataset(
        frame,
        target,
        cfg.validate_,
        requested_task=cfg.data.task,
        source=name,
        key=cfg.split.key,
        max_categories=cfg.features.max_categories,
    )
    task = seen.task
    train, test = split_frame(frame.drop(columns=seen.identifiers), target, task, cfg.split)
    del frame

    def train_template():
        training = model_for_rows(cfg, train, target, task, seen.encodings)
        with threads_for(len(training.y)):  # as train fits it
            if training.selection is None or training.selection.fitted is None:
                training.model.fit(training.features, training.y)
        return training

    seconds, training = timed(train_template)
    template, x_train, y = training.model, training.features, training.y
    x_test = test[x_train.columns]
    y_train, y_test = y.to_numpy(), test[target].to_numpy()
    plain = plain_baselines(task, cfg.train.seed)
    codes = too_many_levels(x_train)
    x_plain, x_plain_test = as_categories(x_train, codes), as_categories(x_test, codes)
    plain_seconds, _ = timed(lambda: plain["hgb"].fit(x_plain, y_train))
    plain["linear"].fit(x_train, y_train)
    preds = {
        "template": template.predict(x_test),
        "hgb": plain["hgb"].predict(x_plain_test),
        "linear": plain["linear"].predict(x_test),
    }
    whole = np.ones((1, len(y_test)))
    scores = {key: float(weighted_metric(task, y_test, p, whole)[0]) for key, p in preds.items()}
    return {
        "task": task,
        "y": y_test,
        "preds": preds,
        "scores": scores,
        "rows": len(y_train),
        "times": {"seconds": seconds, "plain_seconds": plain_seconds},
    }


def compare(name: str, extra: tuple[str, ...] = (), splits: int = SPLITS, label: str = "") -> dict:
    one = fit_and_score(name, extra=extra)
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
    runs = [one] if splits == 1 else [fit_and_score(name, s, extra) for s in range(splits)]
    repeated = pd.DataFrame([run["scores"] for run in runs])
    mean = repeated.mean()
    mean_bar = better(("hgb", "linear"), key=mean.__getitem__)
    split_gaps = gap(task, repeated["template"], repeated[mean_bar])
    times = pd.DataFrame([run["times"] for run in runs]).median()
    return {
        "set": label or name,
        "metric": "rmse" if task == "regression" else "balanced_accuracy",
        "n_test": len(y_test),
        **scores,
        "gap": gap(task, scores["template"], scores[bar]),
        "noise": (high - low) / 2,
        **{f"mean_{key}": value for key, value in mean.items()},
        "mean_gap": gap(task, mean["template"], mean[mean_bar]),
        "se": float(split_gaps.std(ddof=1) / np.sqrt(splits)) if splits > 1 else float("nan"),
        "splits": splits,
        **times,
        "ratio": times["seconds"] / times["plain_seconds"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model=linear")
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows of the generated set (0: none)"
    )
    parser.add_argument(
        "--no-text",
        dest="text",
        action="store_false",
        help="leave out the generated table with free text and 5,000 levels",
    )
    args = parser.parse_args()
    OVERRIDES[:] = args.overrides
    start = time.perf_counter()
    compared = [compare(name) for name in bundled_sets()]
    if args.rows:
        size = f"{args.rows:.0e}".replace("e+0", "e")
        extra = (f"data.n_rows={args.rows}",)
        compared.append(compare("synthetic", extra, splits=1, label=f"synthetic {size}"))
    if args.text:
        compared.append(compare("synthetic", TEXT_SET, splits=1, label=TEXT_LABEL))
    rows = pd.DataFrame(compared)
    rows["verdict"] = np.where(rows["mean_gap"] <= TOLERANCE, "OK", "WORSE")
    rows["time_verdict"] = np.where(rows["ratio"] <= TIME_BAR, "OK", "SLOW")
    # Reading words and each level's effect costs what boosting on level numbers skips:
    # the text table's time is shown, not judged.
    rows.loc[rows["set"] == TEXT_LABEL, "time_verdict"] = "shown"
    names = ("template", "sk hgb", "sk linear")
    head = f"{'data set':<16} {'metric':<18} " + " ".join(f"{n:>9}" for n in names) + f" {'gap':>7}"
    print(f"the pipeline's split (split.seed from conf/)\n{head} {'noise':>7} {'test rows':>9}")
    for r in rows.itertuples():
        print(
            f"{r.set:<16} {r.metric:<18} {r.template:>9.4g} {r.hgb:>9.4g} {r.linear:>9.4g} "
            f"{r.gap:>+7.1%} {r.noise:>6.1%} {r.n_test:>9}"
        )
    print(f"\nthe mean over {SPLITS} split seeds (the generated set: its one split)")
    print(f"{head} {'se':>7}  verdict")
    for r in rows.itertuples():
        print(
            f"{r.set:<16} {r.metric:<18} {r.mean_template:>9.4g} {r.mean_hgb:>9.4g} "
            f"{r.mean_linear:>9.4g} {r.mean_gap:>+7.1%} {r.se:>6.1%}  {r.verdict}"
        )
    print(
        f"gap: how much worse the template's default is than the better plain baseline "
        f"(positive: worse; OK up to {TOLERANCE:.0%} on the mean); noise: half-width of the "
        "95 % paired bootstrap interval on the one split; se: standard error of the mean gap"
    )
    print(
        f"\ntraining time, the median over the splits\n{'data set':<16} {'template':>9} "
        f"{'sk hgb':>9} {'ratio':>7}  verdict"
    )
    for r in rows.itertuples():
        print(
            f"{r.set:<16} {r.seconds:>8.2f}s {r.plain_seconds:>8.2f}s {r.ratio:>6.1f}x  "
            f"{r.time_verdict}"
        )
    print(
        "template: model=auto's choice and the final fit, as train runs them; sk hgb: one "
        f"fit of sklearn's gradient boosting with its defaults (OK up to {TIME_BAR:g}x)"
    )
    print(f"{time.perf_counter() - start:.1f} s to compose, load, split, fit and score")
    failed = (rows["verdict"] == "WORSE") | (rows["time_verdict"] == "SLOW")
    return int(failed.any())


if __name__ == "__main__":
    sys.exit(main())
