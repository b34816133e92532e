"""The shadow model (serve.shadow) against the model that answered, on the same logged
requests: each request's two rows paired, and compared where labels have arrived with
the gate's paired bootstrap (the shadow first). Pure: io/shadow_rows.py reads the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlops_template.config.release import Bootstrap
from mlops_template.core import bootstrap as bs

PAIR = ["request_id", "row_number", "scored_at"]  # a client may reuse its request ids
TOO_FEW = "too few labelled rows"


@dataclass(frozen=True)
class ShadowComparison:
    """One pair of versions that ran side by side: the shadow's improvement over the
    served model on their labelled rows (None when there were fewer than asked for)."""

    served_version: str
    shadow_version: str
    rows: int
    paired: bs.Paired | None

    @property
    def verdict(self) -> str:
        return self.paired.verdict if self.paired else TOO_FEW

    def as_json(self) -> dict[str, Any]:
        found = {
            "served_version": self.served_version,
            "shadow_version": self.shadow_version,
            "rows": self.rows,
        }
        return {**found, **self.paired.as_json()} if self.paired else {**found, "verdict": TOO_FEW}


def is_shadow(rows: pd.DataFrame) -> pd.Series:
    if "shadow" not in rows:
        return pd.Series(False, index=rows.index)
    return rows["shadow"].fillna(False).astype(bool)


def pair_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Each answered REST row beside the shadow's row for the same request (columns
    suffixed `_shadow`); rows without a shadow twin are left out."""
    rest = rows[rows["request_id"].notna()]
    shadow = is_shadow(rest)
    return rest[~shadow].merge(
        rest[shadow], on=PAIR, suffixes=("", "_shadow"), validate="one_to_one"
    )


def compare(
    labelled: pd.DataFrame,
    metric: str,
    classes: list[str] | None,
    noise: Bootstrap,
    min_rows: int,
) -> list[ShadowComparison]:
    """Every (served, shadow) pair of versions in `labelled` (pair_rows' rows with a
    `label` column, typed as the predictions are), compared on its own rows."""
    found = []
    versions = ["model_version", "model_version_shadow"]
    for (served, shadow), group in labelled.groupby(versions, sort=True):
        paired = None
        if len(group) >= min_rows:
            y = group["label"].reset_index(drop=True)
            paired = bs.paired(
                metric, y, _outputs(group, "_shadow", classes), _outputs(group, "", classes), noise
            )
        found.append(ShadowComparison(str(served), str(shadow), len(group), paired))
    return found


def _outputs(group: pd.DataFrame, suffix: str, classes: list[str] | None) -> bs.Outputs:
    proba = None
    if classes:
        proba = group[[f"proba_{c}{suffix}" for c in classes]].to_numpy(dtype="float64")
    return bs.Outputs(np.asarray(group[f"prediction{suffix}"]), proba, classes)
