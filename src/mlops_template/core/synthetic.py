"""A generated tabular data set: numeric and categorical columns, missing values, and
on request a column of many levels and a free-text one."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification, make_regression

from mlops_template.config import SyntheticData


def generate(cfg: SyntheticData) -> pd.DataFrame:
    """Same config, same frame: every random draw comes from `cfg.seed`."""
    rng = np.random.default_rng(cfg.seed)
    n_informative = cfg.n_informative
    if cfg.task == "classification":
        x, y = make_classification(
            n_samples=cfg.n_rows,
            n_features=n_informative,
            n_informative=n_informative,
            n_redundant=0,
            n_classes=cfg.n_classes,
            flip_y=cfg.noise,
            random_state=cfg.seed,
        )
        target = pd.Series([f"class_{v}" for v in y], name=cfg.target, dtype="str")
    else:
        x, y = make_regression(
            n_samples=cfg.n_rows,
            n_features=n_informative,
            noise=cfg.noise * 100,
            random_state=cfg.seed,
        )
        target = pd.Series(y, name=cfg.target)
    frame = pd.DataFrame({f"num_{i}": x[:, i] for i in range(cfg.n_numeric)})
    for j in range(cfg.n_categorical):
        # Bin an informative column into letters so the category carries signal.
        col = x[:, cfg.n_numeric + j]
        bins = np.quantile(col, [0.25, 0.5, 0.75])
        frame[f"cat_{j}"] = pd.Series(np.array(list("abcd"))[np.digitize(col, bins)], dtype="str")
    informative = iter(x[:, cfg.n_numeric + cfg.n_categorical :].T)
    if cfg.n_levels:
        frame["code"] = levels_of(next(informative), cfg.n_levels, rng)
    if cfg.text:
        frame["text"] = words_of(next(informative), rng)
    if cfg.missing_rate:
        for name in frame.columns:
            frame.loc[rng.random(cfg.n_rows) < cfg.missing_rate, name] = np.nan
    frame[cfg.target] = target
    return frame


def levels_of(values: np.ndarray, n_levels: int, rng: np.random.Generator) -> pd.Series:
    """`values` binned into `n_levels` levels of about equal rows, named in random order:
    a level's effect is learnable, its name's order says nothing."""
    bins = np.quantile(values, np.linspace(0, 1, n_levels + 1)[1:-1])
    names = rng.permutation(n_levels)
    return pd.Series([f"L{names[b]:05d}" for b in np.digitize(values, bins)], dtype="str")


SIGNAL_WORDS = 20  # one of these per row says which twentieth of the values it holds
FILLER_WORDS = 200  # and 3-8 of these say nothing: most rows' texts are unique


def words_of(values: np.ndarray, rng: np.random.Generator) -> pd.Series:
    """Sentences whose one signal word encodes `values`' bin, among filler words."""
    bins = np.quantile(values, np.linspace(0, 1, SIGNAL_WORDS + 1)[1:-1])
    signal = np.digitize(values, bins)
    texts = []
    for word in signal:
        filler = rng.choice(FILLER_WORDS, size=rng.integers(3, 9), replace=False)
        words = [f"w{f}" for f in filler]
        words.insert(int(rng.integers(0, len(words) + 1)), f"s{word}")
        texts.append(" ".join(words))
    return pd.Series(texts, dtype="str")
