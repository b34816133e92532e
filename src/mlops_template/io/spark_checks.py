"""validate on Spark (`engine=spark`): the facts core/dataset_checks.py decides on,
computed by Spark's aggregates, so that the report is the pandas engine's to the letter.
The driver gets counts, bounds and sums, a screen of labelled rows, and the target's
rows per value (its classes); never the table or a column of it."""

from __future__ import annotations

import math
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlops_template.config import Validate
from mlops_template.core.columns import column_kind, is_integer, is_text
from mlops_template.core.dataset_checks import check_table
from mlops_template.core.table_facts import TableFacts
from mlops_template.core.validation_report import ValidationReport
from mlops_template.io.spark_session import quoted
from mlops_template.io.spark_target import SparkTarget, target_pairs

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

# Whitespace as pandas' string methods have it (`str.strip()`, `\s`, `\S`): Python's
# (str.isspace); Java's regex `\s` is ASCII only. A Java class of the characters themselves.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
# Whitespace inside once stripped (`str.strip().str.contains(r"\s")`): between non-blanks.
INSIDE = f"[^{WHITESPACE}][{WHITESPACE}]+[^{WHITESPACE}]"
WORD = f"[^{WHITESPACE}]+"  # str.count(r"\S+") counts these
PAIRS_PER_PASS = 16  # column pairs asked about in one pass (first_unique_pairs)


def check_spark_dataset(
    frame: DataFrame,
    dtypes: dict[str, str],
    target: str,
    settings: Validate,
    *,
    requested_task: str,
    source: str,
    key: str | None = None,
    max_categories: int | None = 20,
) -> ValidationReport:
    """check_dataset's report of a Spark table whose columns read in pandas as `dtypes`
    (io/parquet_chunks.pandas_dtypes of its file). Column names are case-sensitive, as in
    pandas ('Churn' beside 'churn'): the session reads them so meanwhile."""
    conf = frame.sparkSession.conf
    before = conf.get("spark.sql.caseSensitive")
    conf.set("spark.sql.caseSensitive", "true")
    try:
        return check_table(
            SparkFacts(frame, dtypes, target, key),
            target,
            settings,
            requested_task=requested_task,
            source=source,
            key=key,
            max_categories=max_categories,
        )
    finally:
        conf.set("spark.sql.caseSensitive", before)


class SparkFacts(TableFacts):
    """A Spark table's facts, in few passes (each a scan of the table on a cluster): the
    rows, the target's facts and every other column's missing and distinct values and
    bounds (the split key's only if asked); the words of the text columns asked about;
    the pairs of columns asked about; then the target's classes and copies of it."""

    def __init__(self, frame: DataFrame, dtypes: dict[str, str], target: Any, key: Any) -> None:
        self.frame = frame
        self.columns = list(frame.columns)
        self._dtypes = {name: _pandas_dtype(dtypes[name]) for name in self.columns}
        self._types = {field.name: field.dataType for field in frame.schema.fields}
        self._target = SparkTarget(self, target) if target in self._dtypes else None
        self._scope = [c for c in self.columns if c not in (target, key)]
        self._words: dict[Any, tuple[int, int]] = {}

    def col(self, name: Any) -> Column:
        from pyspark.sql import functions as F

        return F.col(quoted(str(name)))

    def is_missing(self, name: Any) -> Column:
        """Missing as pandas has it: null, and NaN in floats."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import DoubleType, FloatType

        column = self.col(name)
        if isinstance(self._types[name], DoubleType | FloatType):
            return column.isNull() | F.isnan(column)
        return column.isNull()

    @cached_property
    def summary(self) -> dict[str, Any]:
        """The first pass: the rows, the target's facts and the other columns' facts
        (_first's)."""
        from pyspark.sql import functions as F

        aggs = [F.count(F.lit(1)).alias("rows")]
        if self._target is not None:
            aggs += self._target.aggregates()
        return self.frame.agg(*aggs, *self._column_aggregates(self._first)).first().asDict()

    @cached_property
    def _first(self) -> list[Any]:
        """The columns counted in the first pass: those of plain types (numbers, text,
        booleans, dates). An aggregate Spark refuses (of a map, say) must not come before
        the checks that refuse the table."""
        from pyspark.sql.types import (
            BooleanType,
            DateType,
            NumericType,
            StringType,
            TimestampNTZType,
            TimestampType,
        )

        plain = (BooleanType, DateType, NumericType, StringType, TimestampType, TimestampNTZType)
        return [c for c in self._scope if isinstance(self._types[c], plain)]

    @cached_property
    def _stats(self) -> dict[Any, dict[str, Any]]:
        """Each column's facts: the first pass's, then those asked for since."""
        stats: dict[Any, dict[str, Any]] = {}
        _keep_stats(stats, self._first, self.summary)
        return stats

    @cached_property
    def rows(self) -> int:
        return self.summary["rows"]

    def dtype(self, name: Any) -> Any:
        return self._dtypes[name]

    def _stat(self, name: Any, fact: str) -> Any:
        if fact not in self._stats.get(name, {}):  # a fact the first pass did not count
            aggs = self._column_aggregates([name], every=True)
            _keep_stats(self._stats, [name], self.frame.agg(*aggs).first().asDict())
        return self._stats[name][fact]

    def _column_aggregates(self, names: list[Any], every: bool = False) -> list[Column]:
        """Missing values of each column; distinct values of those that can be counted
        (integers, text, dates); bounds. Named "fact i", i in `names`."""
        from pyspark.sql import functions as F

        aggs = []
        for i, name in enumerate(names):
            column, dtype = self.col(name), self.dtype(name)
            aggs.append(F.count(F.when(self.is_missing(name), 1)).alias(f"missing {i}"))
            if every or is_integer(dtype) or is_text(dtype) or column_kind(dtype) == "date":
                present = F.when(~self.is_missing(name), column)
                aggs.append(F.count_distinct(present).alias(f"distinct {i}"))
            # Bounds of every column: an integer's span, and whether a column is constant.
            aggs += [F.min(column).alias(f"low {i}"), F.max(column).alias(f"high {i}")]
        return aggs

    def missing(self, name: Any) -> int:
        return self._stat(name, "missing")

    def distinct(self, name: Any) -> int:
        return self._stat(name, "distinct")

    def levels(self, name: Any) -> int:
        return self.distinct(name) + (self.missing(name) > 0)

    def span(self, name: Any) -> int:
        return int(self._stat(name, "high")) - int(self._stat(name, "low")) + 1

    def constant(self, name: Any) -> bool:
        return self.missing(name) == 0 and self._stat(name, "low") == self._stat(name, "high")

    def _text(self, names: list[Any]) -> dict[Any, tuple[int, int]]:
        """Per column, its values with whitespace inside, and its words; the columns not
        yet read in one pass."""
        from pyspark.sql import functions as F

        if todo := [name for name in names if name not in self._words]:
            aggs = []
            for name in todo:
                text, present = self.col(name).cast("string"), ~self.is_missing(name)
                aggs.append(F.count(F.when(present & text.rlike(INSIDE), 1)))
                aggs.append(F.sum(F.when(present, F.regexp_count(text, F.lit(WORD)))))
            row = self.frame.agg(*aggs).first()
            self._words |= {n: (row[2 * i], row[2 * i + 1] or 0) for i, n in enumerate(todo)}
        return {name: self._words[name] for name in names}

    def wordy_shares(self, names: list[Any]) -> dict[Any, float]:
        found = self._text(names).items()
        return {n: _share(wordy, self.rows - self.missing(n)) for n, (wordy, _) in found}

    def mean_words(self, names: list[Any]) -> dict[Any, float]:
        found = self._text(names).items()
        return {n: _share(words, self.rows - self.missing(n)) for n, (_, words) in found}

    def first_unique_pairs(self, candidates: dict[Any, list[Any]]) -> dict[Any, Any]:
        """Up to PAIRS_PER_PASS pairs a pass (Spark copies each row once per distinct
        count): a pair identifies the rows if it has as many distinct values as there are
        rows (Spark's distinct, as pandas' duplicated, takes missing equal to missing; a
        struct is never null). A column found is not asked about again."""
        from pyspark.sql import functions as F

        pending = [(first, second) for first, seconds in candidates.items() for second in seconds]
        found: dict[Any, Any] = {}
        while pending:
            batch, pending = pending[:PAIRS_PER_PASS], pending[PAIRS_PER_PASS:]
            row = self.frame.agg(
                *(F.count_distinct(F.struct(self.col(a), self.col(b))) for a, b in batch)
            ).first()
            for (first, second), distinct in zip(batch, row, strict=True):
                if distinct == self.rows:
                    found.setdefault(first, second)
            pending = [(first, second) for first, second in pending if first not in found]
        return found

    def target(self, name: Any) -> SparkTarget:
        if self._target is None or name != self._target.name:
            raise KeyError(name)
        return self._target

    def labelled(self, target: Any) -> DataFrame:
        return self.frame.where(~self.is_missing(target))

    def target_pairs(
        self, columns: list[Any], target: Any, classes: bool
    ) -> dict[Any, list[tuple[Any, Any]]]:
        return target_pairs(self, columns, target, classes)

    def collect(self, frame: DataFrame) -> pd.DataFrame:
        """The rows of `frame` (a few), its columns this table's, as pandas reads them."""
        rows = frame.select(*(self.exact(name) for name in frame.columns)).collect()
        return pd.DataFrame(
            {
                name: self.series([row[i] for row in rows], name)
                for i, name in enumerate(frame.columns)
            }
        )

    def exact(self, name: Any, column: Column | None = None) -> Column:
        """The column's values as Spark hands them over exactly: instants as microseconds
        (a Python datetime would be in the driver's local time)."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import TimestampType

        column = self.col(name) if column is None else column
        return F.unix_micros(column) if isinstance(self._types[name], TimestampType) else column

    def series(self, values: list[Any], name: Any) -> pd.Series:
        """`exact` values of a column as pandas reads them from the file."""
        from pyspark.sql.types import TimestampType

        dtype = self.dtype(name)
        if isinstance(self._types[name], TimestampType):
            instants = pd.Series(pd.to_datetime(values, unit="us", utc=True))
            if isinstance(dtype, pd.DatetimeTZDtype):
                return instants.dt.tz_convert(dtype.tz).astype(dtype)
            values = instants.dt.tz_localize(None)
        try:
            return pd.Series(values, dtype=dtype)
        except (TypeError, ValueError):
            return pd.Series(values)


def _keep_stats(stats: dict[Any, dict[str, Any]], names: list[Any], found: dict[str, Any]) -> None:
    """The aggregates named "fact i" (_column_aggregates of `names`) into `stats`."""
    for alias, value in found.items():
        fact, _, i = alias.partition(" ")
        if i:
            stats.setdefault(names[int(i)], {})[fact] = value


def _pandas_dtype(name: str) -> Any:
    try:
        return pd.api.types.pandas_dtype(name)
    except (TypeError, ValueError, NotImplementedError):  # pandas' own, read as objects
        return np.dtype(object)


def _share(part: int, whole: int) -> float:
    """A pandas mean of `whole` values summing to `part` (NaN of none)."""
    return part / whole if whole else math.nan
