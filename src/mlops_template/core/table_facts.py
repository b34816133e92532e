"""What validate's checks read about a table, apart from what they decide with it: per
column its dtype, missing and distinct values, integer span and words per value; whether
two columns name every row once; the target's values. `FrameFacts` reads them off a
pandas frame, a column at a time and only when a check asks; io/spark_checks.py computes
the same facts on a Spark table. The decisions (core/dataset_checks.py, core/columns.py,
core/target.py) read only these, so both engines give the same report."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

# Labelled rows (spread over the data) compared before whole columns: almost every
# column differs from the target within them, so 10M rows cost little more than 1,000.
SCREEN_ROWS = 1000
# Rows of a (unit, period) pair checked for a repeat before all of them.
PANEL_SAMPLE = 100_000


class TargetFacts(ABC):
    """The target column's labelled values (missing ones left out): how many, how many
    distinct, their range (numbers), whether all are whole, and the rows of each value."""

    name: Any
    dtype: Any

    @property
    @abstractmethod
    def labelled(self) -> int:
        """Rows with a target."""

    @property
    @abstractmethod
    def distinct(self) -> int:
        """Distinct values (classes)."""

    @property
    @abstractmethod
    def bounds(self) -> tuple[Any, Any]:
        """The smallest and largest value (numbers only)."""

    @property
    @abstractmethod
    def whole(self) -> bool:
        """Every value a whole number (numbers only)."""

    @property
    @abstractmethod
    def counts(self) -> pd.Series:
        """Rows per value as `Series.value_counts()` gives them: the most rows first, ties
        in the order the values first appear; indexed by the values in the column's dtype."""


class TableFacts(ABC):
    """Facts about a table's columns, each computed when first asked for."""

    columns: list[Any]

    @property
    @abstractmethod
    def rows(self) -> int: ...

    @abstractmethod
    def dtype(self, name: Any) -> Any:
        """The column's pandas dtype (as pd.read_parquet gives it)."""

    @abstractmethod
    def missing(self, name: Any) -> int:
        """Missing values (None, NaN, NaT, NA; in Spark null, and NaN in floats)."""

    @abstractmethod
    def distinct(self, name: Any) -> int:
        """Distinct values, missing ones not counted (`nunique()`)."""

    @abstractmethod
    def levels(self, name: Any) -> int:
        """Distinct values, missing counted as one (`nunique(dropna=False)`)."""

    @abstractmethod
    def span(self, name: Any) -> int:
        """An integer column's largest value minus its smallest, plus one."""

    @abstractmethod
    def constant(self, name: Any) -> bool:
        """Whether the column holds one value in every row, none missing."""

    @abstractmethod
    def wordy_shares(self, names: list[Any]) -> dict[Any, float]:
        """Share of each column's values (as text, stripped) with whitespace inside."""

    @abstractmethod
    def mean_words(self, names: list[Any]) -> dict[Any, float]:
        """Words (runs of non-whitespace) per value of each column, on average."""

    @abstractmethod
    def first_unique_pairs(self, candidates: dict[Any, list[Any]]) -> dict[Any, Any]:
        """For each column of `candidates`, the first of its columns with which it holds no
        two rows alike (missing equal to missing); columns with none left out."""

    @abstractmethod
    def target(self, name: Any) -> TargetFacts:
        """The facts of the target column `name`."""

    @abstractmethod
    def target_pairs(
        self, columns: list[Any], target: Any, classes: bool
    ) -> dict[Any, list[tuple[Any, Any]]]:
        """The columns that pair with the target on every labelled row, with their pairs:
        one to one with its classes (`pair_classes`) if `classes`, else the same numbers
        (no pairs to show)."""


class SeriesTarget(TargetFacts):
    """A pandas target column's facts, each computed when first asked for."""

    def __init__(self, series: pd.Series) -> None:
        self.series, self.name, self.dtype = series, series.name, series.dtype

    @cached_property
    def values(self) -> pd.Series:
        return self.series.dropna()

    @cached_property
    def labelled(self) -> int:
        return len(self.values)

    @cached_property
    def distinct(self) -> int:
        return self.values.nunique()

    @cached_property
    def bounds(self) -> tuple[Any, Any]:
        return self.values.min(), self.values.max()

    @cached_property
    def whole(self) -> bool:
        return bool((self.values % 1 == 0).all())

    @cached_property
    def counts(self) -> pd.Series:
        return self.values.value_counts()


class FrameFacts(TableFacts):
    """Facts read off a pandas frame: no copy of it, a column's facts from that column."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame  # or any table whose [name] is a column (io/parquet_facts.py)
        self.columns = list(frame.columns)
        self._seen: dict[tuple[str, Any], Any] = {}
        self._targets: dict[Any, SeriesTarget] = {}

    def _once(self, fact: str, name: Any, compute: Any) -> Any:
        if (fact, name) not in self._seen:
            self._seen[fact, name] = compute(self.frame[name])
        return self._seen[fact, name]

    @cached_property
    def rows(self) -> int:
        return len(self.frame)

    def dtype(self, name: Any) -> Any:
        return self.frame[name].dtype

    def missing(self, name: Any) -> int:
        return self._once("missing", name, lambda c: int(c.isna().sum()))

    def distinct(self, name: Any) -> int:
        return self._once("distinct", name, lambda c: c.nunique())

    def levels(self, name: Any) -> int:
        return self._once("levels", name, lambda c: c.nunique(dropna=False))

    def span(self, name: Any) -> int:
        return self._once("span", name, lambda c: int(c.max()) - int(c.min()) + 1)

    def constant(self, name: Any) -> bool:
        return self._once(
            "constant", name, lambda c: bool(c.notna().all() and c.eq(c.iloc[0]).all())
        )

    def wordy_shares(self, names: list[Any]) -> dict[Any, float]:
        return {name: self._once("wordy", name, _wordy_share) for name in names}

    def mean_words(self, names: list[Any]) -> dict[Any, float]:
        return {name: self._once("words", name, _mean_words) for name in names}

    def first_unique_pairs(self, candidates: dict[Any, list[Any]]) -> dict[Any, Any]:
        found = {}
        for first, seconds in candidates.items():
            for second in seconds:
                pair = self.frame[[first, second]]
                # a repeat among the first rows settles most pairs at a fraction of the cost
                if not (pair.head(PANEL_SAMPLE).duplicated().any() or pair.duplicated().any()):
                    found[first] = second
                    break
        return found

    def target(self, name: Any) -> SeriesTarget:
        if name not in self._targets:
            self._targets[name] = SeriesTarget(self.frame[name])
        return self._targets[name]

    def target_pairs(
        self, columns: list[Any], target: Any, classes: bool
    ) -> dict[Any, list[tuple[Any, Any]]]:
        labels = self.frame[target]
        rows = np.flatnonzero(labels.notna().to_numpy())
        screen = rows[:: max(1, len(rows) // SCREEN_ROWS)]
        pair = pair_classes if classes else _same_numbers
        found, y = {}, None
        for column in columns:
            if pair(self.frame[column].iloc[screen], labels.iloc[screen]) is None:
                continue
            y = labels.iloc[rows] if y is None else y
            pairs = pair(self.frame[column].iloc[rows], y)
            if pairs is not None:
                found[column] = pairs
        return found


def as_facts(table: pd.DataFrame | TableFacts) -> TableFacts:
    return FrameFacts(table) if isinstance(table, pd.DataFrame) else table


def _wordy_share(column: pd.Series) -> float:
    text = column.dropna().astype(str).str.strip()
    return float(text.str.contains(r"\s", regex=True).mean())


def _mean_words(column: pd.Series) -> float:
    return float(column.dropna().astype(str).str.count(r"\S+").mean())


def _same_numbers(x: pd.Series, y: pd.Series) -> list[tuple[Any, Any]] | None:
    """No pairs to show if x holds y's numbers; None if not."""
    return [] if np.array_equal(x.to_numpy(float, na_value=np.nan), y.to_numpy(float)) else None


def pair_classes(x: pd.Series, y: pd.Series) -> list[tuple[Any, Any]] | None:
    """x's values (missing is one) paired with y's classes if they map one to one, by
    y's classes as text; None if not. Rows, or the distinct (x, y) pairs: the same answer."""
    x_codes, x_values = x.factorize(use_na_sentinel=False)
    y_codes, y_values = y.factorize()
    if len(x_values) != len(y_values):
        return None
    pairs = pd.unique(x_codes.astype(np.int64) * len(y_values) + y_codes)
    if len(pairs) != len(y_values):
        return None
    xs, ys = x_values.tolist(), y_values.tolist()
    return sorted(((xs[p // len(ys)], ys[p % len(ys)]) for p in pairs), key=lambda p: str(p[1]))
