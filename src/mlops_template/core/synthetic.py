"""A generated tabular data set: numeric and categorical columns, missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification, make_regression

from mlops_template.config import SyntheticData


def generate(cfg: SyntheticData) -> pd.DataFrame:
    """Same config, same frame: every random draw comes from `cfg.seed`."""
    rng = np.random.default_rng(cfg.seed)
    n_informative = cfg.n_numeric + cfg.n_categorical
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
    if cfg.missing_rate:
        for name in frame.columns:
            frame.loc[rng.random(cfg.n_rows) < cfg.missing_rate, name] = np.nan
    frame[cfg.target] = target
    return frame
