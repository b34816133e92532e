"""prepare on Spark (`engine=spark`): the rows relabelled (validate's small classes) and
sent to train or test by the same per-row functions as the pandas engine, a Spark
partition at a time; the two files written as the pandas engine writes them."""

# No `from __future__ import annotations`: PySpark reads the UDF's hints.
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_template.config import Config
from mlops_template.core.split import refuse_key, refuse_split, refuse_unseen, test_side
from mlops_template.core.target import CLASSIFICATION, label_dtype, relabelled
from mlops_template.core.validation_report import ValidationReport
from mlops_template.io.atomic import atomic_path
from mlops_template.io.spark_tables import (
    ParquetSink,
    as_dtypes,
    chunks_of,
    pandas_dtypes,
    spark_parts,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SIDE = "__in_test"  # the column Spark adds to each row for the driver to read


def split_on_spark(spark: "SparkSession", cfg: Config, report: ValidationReport) -> tuple[int, int]:
    """Write paths.train and paths.test from paths.raw as split_frame would (the same rows,
    in the same order, the same errors); return their rows."""
    from pyspark.sql.types import BooleanType, StructField, StructType

    target, handled, not_features = report.target, report.small_classes, report.identifiers
    raw, train_path, test_path, split = cfg.paths.raw, cfg.paths.train, cfg.paths.test, cfg.split
    dtypes = pandas_dtypes(raw)
    frame = spark.read.parquet(str(Path(raw).resolve()))
    if split.key is not None and (split.key not in frame.columns or split.key == target):
        refuse_key(frame.columns, target, split.key, 0)

    def sides(chunks):
        for chunk in chunks:
            rows = relabelled(as_dtypes(chunk, dtypes), target, handled)
            labelled = rows[rows[target].notna()]
            yield labelled.assign(**{SIDE: test_side(labelled, target, split, not_features)})

    flagged = frame.mapInPandas(
        sides, StructType([*frame.schema.fields, StructField(SIDE, BooleanType(), False)])
    )
    if handled is not None:  # the labels' dtype, as relabelled gives the whole column
        dtypes[target] = str(label_dtype(dtypes[target], report.n_rows_without_target > 0))
    classes: dict[bool, set] = {False: set(), True: set()}
    missing_key = 0
    with (
        spark_parts(flagged, train_path) as parts,
        atomic_path(train_path) as train_tmp,
        atomic_path(test_path) as test_tmp,
    ):
        with ParquetSink(train_tmp, dtypes) as train, ParquetSink(test_tmp, dtypes) as test:
            for chunk in chunks_of(parts):
                in_test = chunk.pop(SIDE).to_numpy(dtype=bool)
                if split.key is not None:
                    missing_key += int(chunk[split.key].isna().sum())
                for side, sink in ((False, train), (True, test)):
                    rows = chunk[in_test == side]
                    if report.task == CLASSIFICATION:
                        classes[side].update(rows[target].unique().tolist())
                    sink.write(rows)
        if split.key is not None:
            refuse_key(frame.columns, target, split.key, missing_key)
        refuse_split(train.rows, test.rows, split)
        if report.task == CLASSIFICATION:
            refuse_unseen(classes[False], classes[True], target)
    return train.rows, test.rows
