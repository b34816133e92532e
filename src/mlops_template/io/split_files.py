"""prepare's output: train and test written a chunk of rows at a time as each chunk is
sided (core/split.py), by either engine, with split_frame's refusals; neither file is
replaced unless both are whole and the split is one a model can learn from."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from mlops_template.config import Config
from mlops_template.core.class_labels import label_dtype, whole_classes
from mlops_template.core.split import refuse_key, refuse_key_column, refuse_split, refuse_unseen
from mlops_template.core.target import CLASSIFICATION
from mlops_template.core.validation_report import ValidationReport
from mlops_template.io.atomic import atomic_path
from mlops_template.io.parquet_chunks import ParquetSink


def split_dtypes(raw: dict[str, str], report: ValidationReport) -> dict[str, str]:
    """The dtypes of train and test: raw's, the target's as relabelled gives the whole
    column (core/target.label_dtype), so every chunk is written alike; integer class
    codes read as floats (empty cells) as integers, the classes validate counted."""
    classes = report.classes or {}
    codes = report.task == CLASSIFICATION and pd.api.types.is_float_dtype(raw[report.target])
    if report.small_classes is None and not (codes and whole_classes(classes)):
        return raw
    has_missing = report.n_rows_without_target > 0
    dtype = label_dtype(raw[report.target], has_missing, classes)
    return {**raw, report.target: str(dtype)}


def write_split(
    sided: Iterable[tuple[pd.DataFrame, np.ndarray]],
    columns: list[str],
    cfg: Config,
    report: ValidationReport,
    dtypes: dict[str, str],
) -> tuple[int, int]:
    """Each chunk's rows to paths.train or paths.test by its test-side flags; returns
    their rows. `columns` are raw's, for split.key's checks."""
    target, key = report.target, cfg.split.key
    refuse_key_column(columns, target, key)
    classes: dict[bool, set] = {False: set(), True: set()}
    missing_key = 0
    with (
        atomic_path(cfg.paths.train) as train_tmp,
        atomic_path(cfg.paths.test) as test_tmp,
    ):
        with ParquetSink(train_tmp, dtypes) as train, ParquetSink(test_tmp, dtypes) as test:
            for rows, in_test in sided:
                if key is not None:
                    missing_key += int(rows[key].isna().sum())
                for side, sink in ((False, train), (True, test)):
                    part = rows[in_test == side]
                    if report.task == CLASSIFICATION:
                        classes[side].update(part[target].unique().tolist())
                    sink.write(part)
        if key is not None:
            refuse_key(columns, target, key, missing_key)
        refuse_split(train.rows, test.rows, cfg.split)
        if report.task == CLASSIFICATION:
            refuse_unseen(classes[False], classes[True], target)
    return train.rows, test.rows
