"""A customer table with numeric and categorical columns, missing values and a text target,
and the overrides that train on it from a CSV file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml


def customer_frame(n: int = 300, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "pro"], n)
    tenure = rng.integers(1, 60, n).astype(float)
    spend = rng.gamma(2.0, 30.0, n)
    churn = np.where((plan == "basic") & (tenure < 20) | (spend > 120), "yes", "no")
    frame = pd.DataFrame({"plan": plan, "tenure": tenure, "spend": spend, "churn": churn})
    frame.loc[rng.random(n) < 0.1, "tenure"] = np.nan
    frame.loc[rng.random(n) < 0.1, "plan"] = None
    frame["region"] = rng.choice(["north", "south", None], n)
    return frame


def use_csv(path: Path | str, target: str = "churn") -> list[str]:
    """`params compose` arguments that train on the CSV at path (the customers' by default)."""
    return ["params", "compose", "data=csv", f"data.path={path}", f"data.target={target}"]


def data_path(copy) -> str:
    """The data file a copy's params train on."""
    return yaml.safe_load(copy.path("params.yaml").read_text())["data"]["path"]
