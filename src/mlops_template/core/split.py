"""Hold-out split of a labelled frame, by a hash of each row.

A row's side is a function of the row alone (its `split.key` value, else its feature
values) and `split.seed`: adding rows never moves an existing row between train and
test, so a model's held-out rows stay held out when the data grows. Rows with the same
features land on the same side, so a duplicate cannot leak its label into the test set.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mlops_template.config import Split
from mlops_template.core.class_labels import as_class_codes, relabelled
from mlops_template.core.row_ids import row_ids, uniform
from mlops_template.core.validation_report import ValidationReport
from mlops_template.errors import PipelineError


def identity_columns(
    frame: pd.DataFrame, target: str, key: str | None, not_features: Sequence[str] = ()
) -> list[str]:
    """The columns that identify a row: the key if there is one, else every feature (a
    row number or code validate left out of the features is not one: rows equal but for
    it are the same row, on the same side)."""
    if key:
        return [key]
    return [c for c in frame.columns if c != target and c not in not_features]


def split_frame(
    frame: pd.DataFrame, target: str, task: str, cfg: Split, not_features: Sequence[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows without a target are dropped; the rest go to train or test by their hash (of
    the key, else of the features: `not_features` are left out)."""
    has_target = frame[target].notna()
    # A copy of the whole table only where some rows lack a target (GBs at 1e7 rows).
    labelled = frame if has_target.all() else frame[has_target].reset_index(drop=True)
    if task == "classification":  # as prepare writes them (io/split_files.split_dtypes)
        codes = as_class_codes(labelled[target], has_missing=not has_target.all())
        labelled = labelled.assign(**{target: codes})
    if cfg.key is not None:
        present = cfg.key in labelled.columns
        missing = int(labelled[cfg.key].isna().sum()) if present else 0
        refuse_key(list(labelled.columns), target, cfg.key, missing)
    in_test = test_side(labelled, target, cfg, not_features)
    train, test = labelled[~in_test], labelled[in_test]
    refuse_split(len(train), len(test), cfg)
    if task == "classification":
        refuse_unseen(set(train[target]), set(test[target]), target)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def sided(
    chunk: pd.DataFrame, report: ValidationReport, cfg: Split
) -> tuple[pd.DataFrame, np.ndarray]:
    """Raw rows (any chunk of them) as the model learns from them, small classes dropped
    or merged and rows without a target dropped, and which of them go to the test side."""
    rows = relabelled(chunk, report.target, report.small_classes)
    labelled = rows[rows[report.target].notna()]
    return labelled, test_side(labelled, report.target, cfg, report.identifiers)


def test_side(
    labelled: pd.DataFrame, target: str, cfg: Split, not_features: Sequence[str] = ()
) -> np.ndarray:
    """Whether each row goes to the test side: a function of the row alone, so any chunk
    of the rows (a Spark partition) gets the same answer as the whole table."""
    ids = row_ids(labelled, identity_columns(labelled, target, cfg.key, not_features))
    return uniform(ids, cfg.seed) < cfg.test_size


def refuse_key(columns: Sequence[str], target: str, key: str, missing: int) -> None:
    """split.key must name a feature column with a value in every labelled row."""
    if key not in columns or key == target:
        what = "the target" if key == target else "not a column"
        raise PipelineError(
            f"split.key (data.id_column unless set): '{key}' is {what}; the columns besides "
            f"the target are {[c for c in columns if c != target]}"
        )
    if missing > 0:
        raise PipelineError(f"split.key: column '{key}' is missing in {missing} rows")


def refuse_key_column(columns: Sequence[str], target: str, key: str | None) -> None:
    """What can be said of split.key before any row is read."""
    if key is not None and (key not in columns or key == target):
        refuse_key(columns, target, key, 0)


def refuse_split(n_train: int, n_test: int, cfg: Split) -> None:
    if not n_train or not n_test:
        raise PipelineError(
            f"cannot split {n_train + n_test} rows with split.test_size={cfg.test_size}: "
            f"{n_train} train and {n_test} test rows"
        )


def refuse_unseen(train_classes: set, test_classes: set, target: str) -> None:
    unseen = sorted(test_classes - train_classes, key=str)
    if unseen:
        raise PipelineError(
            f"target '{target}': every row of classes {unseen} is on the test side, so no "
            "model can learn them; add rows of those classes, drop or merge them "
            "(validate.small_classes, with validate.min_class_rows above their rows), or "
            "set data.task=regression if the target is a number"
        )
