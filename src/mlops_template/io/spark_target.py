"""The target's facts on Spark (io/spark_checks.py): its labelled values' counts, its
rows per value in value_counts' order, and the columns that copy it."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlops_template.core.table_facts import SCREEN_ROWS, TargetFacts, pair_classes

if TYPE_CHECKING:
    from pyspark.sql import Column

# The table's facts these read: io/spark_checks.SparkFacts, which imports this module
# (named here as Any, so that the two do not import each other).
SparkFacts = Any


class SparkTarget(TargetFacts):
    """The target's facts: its counts in the table's first pass, its rows per value
    (classes, or a few integers) in a pass of its own."""

    def __init__(self, table: SparkFacts, name: Any) -> None:
        self.table, self.name, self.dtype = table, name, table.dtype(name)

    def aggregates(self) -> list[Column]:
        from pyspark.sql import functions as F

        present = ~self.table.is_missing(self.name)
        value = F.when(present, self.table.col(self.name))
        aggs = [F.count(value).alias("labelled"), F.count_distinct(value).alias("distinct")]
        if _is_number(self.dtype):
            aggs += [F.min(value).alias("low"), F.max(value).alias("high")]
        if pd.api.types.is_float_dtype(self.dtype):
            aggs.append(F.count(F.when(value % 1 != 0, 1)).alias("fractions"))
        return aggs

    @cached_property
    def labelled(self) -> int:
        return self.table.summary["labelled"]

    @cached_property
    def distinct(self) -> int:
        return self.table.summary["distinct"]

    @cached_property
    def bounds(self) -> tuple[Any, Any]:
        return self.table.summary.get("low"), self.table.summary.get("high")

    @cached_property
    def whole(self) -> bool:
        return self.table.summary.get("fractions", 0) == 0

    @cached_property
    def counts(self) -> pd.Series:
        """In value_counts' order: most rows first, ties as the values first appear in
        the file (Spark numbers its rows in order across the file's partitions)."""
        from pyspark.sql import functions as F

        table = self.table
        numbered = table.labelled(self.name).select(
            table.col(self.name).alias("value"), F.monotonically_increasing_id().alias("row")
        )
        grouped = numbered.groupBy("value").agg(
            F.count(F.lit(1)).alias("rows"), F.min("row").alias("first")
        )
        value = table.exact(self.name, F.col("value"))
        found = grouped.orderBy("first").select(value, "rows").collect()
        values = table.series([row[0] for row in found], self.name)
        kind = pd.Series([], dtype=self.dtype).value_counts().dtype  # int64, or Int64
        counts = pd.Series(
            [row[1] for row in found], index=pd.Index(values, name=self.name), dtype=kind
        )
        return counts.rename("count").sort_values(ascending=False, kind="stable")


def target_pairs(
    table: SparkFacts, columns: list[Any], target: Any, classes: bool
) -> dict[Any, list[tuple[Any, Any]]]:
    """TableFacts.target_pairs on Spark. A regression target's: one pass counting the
    labelled rows each column differs on. Classes: a screen of labelled rows, then each
    column that passes it as its distinct (value, class) pairs, of which at most one more
    than the classes comes back."""
    from pyspark.sql import functions as F

    if not columns:
        return {}
    labelled = table.labelled(target)
    if not classes:  # the target's numbers: no labelled row where the column differs
        y = table.col(target).cast("double")
        differ = [
            F.count(F.when(table.is_missing(c) | (table.col(c).cast("double") != y), 1))
            for c in columns
        ]
        row = labelled.agg(*differ).first()
        return {c: [] for i, c in enumerate(columns) if row[i] == 0}
    # A screen of labelled rows first, as on pandas: most columns fail it.
    share = min(1.0, 2 * SCREEN_ROWS / max(1, table.target(target).labelled))
    sample = labelled.select(*(table.col(c) for c in [*columns, target]))
    screen = table.collect(sample.sample(fraction=share, seed=0).limit(4 * SCREEN_ROWS))
    classes_n = table.target(target).distinct
    found = {}
    for column in columns:
        if pair_classes(screen[column], screen[target]) is None:
            continue
        # One to one on every labelled row: its distinct (x, y) pairs are, and as
        # many as the classes. Missing (null, NaN) is one value, as in pandas.
        x = F.when(~table.is_missing(column), table.col(column)).alias(str(column))
        pairs = labelled.select(x, table.col(target)).distinct()
        pairs = table.collect(pairs.limit(classes_n + 1))
        if len(pairs) <= classes_n:
            paired = pair_classes(pairs[column], pairs[target])
            if paired is not None:
                found[column] = paired
    return found


def _is_number(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
