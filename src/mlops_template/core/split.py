"""Hold-out split of a labelled frame."""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split

from mlops_template.config import Split
from mlops_template.errors import PipelineError


def split_frame(
    frame: pd.DataFrame, target: str, task: str, cfg: Split
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows without a target are dropped; classes keep their proportions if asked."""
    labelled = frame[frame[target].notna()].reset_index(drop=True)
    stratify = labelled[target] if cfg.stratify and task == "classification" else None
    if stratify is not None:
        counts = stratify.value_counts()
        rare = counts[counts < 2]
        if len(rare):
            raise PipelineError(
                f"target '{target}': classes {rare.index.tolist()} have a single row, too few to "
                "stratify (set split.stratify=false or add data)"
            )
    try:
        train, test = train_test_split(
            labelled, test_size=cfg.test_size, random_state=cfg.seed, stratify=stratify
        )
    except ValueError as err:
        raise PipelineError(f"cannot split {len(labelled)} rows (split.test_size): {err}") from None
    return train.reset_index(drop=True), test.reset_index(drop=True)
