"""The raw-row contract applied to a table a chunk of rows at a time.

What each column becomes is decided from *facts*, counts and a few values that are
computed per chunk of rows and merged (`chunk_facts`, `Facts.merged`): a Spark
partition's, or the whole frame's. `decide` turns the table's facts into a `Plan` (what
each column becomes, the notes, or the BadCells refusal), and `raw_tables.apply` converts
any chunk of rows by it. pandas (`raw_tables.conform_frame`) and Spark (`io/spark_collect`)
read a table by these same three steps."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from mlops_template.core.raw_rows import (
    SHOWN,
    BadCells,
    infinite_values,
    is_missing,
    looks_like_dates,
    not_dates,
)
from mlops_template.core.shares import percent

# Distinct values kept per text column: a boolean one holds six spellings at most.
KEPT = 7
# What a column becomes (Plan.steps); a column not named is kept as read (text masked).
NUMBERS, DATES, BOOLEAN, TEXT_NUMBERS = "numbers", "dates", "boolean", "text numbers"


@dataclass(frozen=True)
class ColumnFacts:
    """What the contract needs to know of a column, for some of its rows. A chunk's facts
    stop at the first rule that decides it for that chunk (a text column's numbers are not
    counted in a chunk of dates): None, until counted again if the table needs them."""

    kind: str  # "bool", "numeric", "datetime" or "text", by the column's dtype
    infinite: int = 0  # cells read as +-infinity (numbers; text read as numbers)
    present: int = 0  # text: cells not missing
    dates: bool = True  # text: every present cell is ISO 8601 text
    date_errors: int = 0  # of those, cells that are no date (2024-02-30)
    date_examples: tuple[str, ...] = ()
    distinct: tuple | None = ()  # text: its first KEPT distinct present values
    unread: int | None = 0  # text: present cells pandas' number parser cannot read
    bad: int | None = 0  # of those, cells float() cannot read either
    bad_examples: tuple[str, ...] = ()

    def merged(self, other: ColumnFacts) -> ColumnFacts:
        if other.kind != self.kind:
            raise ValueError(f"a column read as {self.kind} in one chunk, {other.kind} in another")
        distinct = None
        if self.distinct is not None and other.distinct is not None:
            distinct = tuple(dict.fromkeys(self.distinct + other.distinct))[:KEPT]
        return ColumnFacts(
            kind=self.kind,
            infinite=self.infinite + other.infinite,
            present=self.present + other.present,
            dates=self.dates and other.dates,
            date_errors=self.date_errors + other.date_errors,
            date_examples=_smallest(self.date_examples + other.date_examples),
            distinct=distinct,
            unread=_sum(self.unread, other.unread),
            bad=_sum(self.bad, other.bad),
            bad_examples=_smallest(self.bad_examples + other.bad_examples),
        )

    def rule(self) -> str | None:
        """The rule that decides a text column: DATES, BOOLEAN or NUMBERS (text, or numbers
        with bad cells); None if that takes facts some chunk did not count."""
        if self.dates and self.present:
            return DATES
        if self.distinct is None:
            return None
        if _boolean(self.distinct):
            return BOOLEAN
        return None if self.number_share() is None else NUMBERS

    def number_share(self) -> float | None:
        """The share of present cells that are numbers (None: not counted). Mostly
        unreadable cells make a text column, without looking closer."""
        if self.unread is None:
            return None
        if self.unread > self.present / 2:
            return 1 - self.unread / self.present
        if self.bad is None:
            return None
        return 1 - self.bad / self.present if self.present else 0.0


@dataclass(frozen=True)
class Facts:
    rows: int
    columns: dict[str, ColumnFacts]

    def merged(self, other: Facts) -> Facts:
        if list(other.columns) != list(self.columns):
            raise ValueError("chunks of different columns")
        columns = {n: f.merged(other.columns[n]) for n, f in self.columns.items()}
        return Facts(self.rows + other.rows, columns)

    def uncounted(self) -> list[str]:
        """Text columns that take facts some chunk did not count (a chunk of dates in a
        column that is not all dates, say): `chunk_facts(..., exact=True)` counts them."""
        return [n for n, f in self.columns.items() if f.kind == "text" and f.rule() is None]

    def recounted(self, exact: Facts) -> Facts:
        """These facts with those of some columns counted again."""
        return Facts(self.rows, {**self.columns, **exact.columns})


@dataclass(frozen=True)
class Plan:
    steps: dict[str, str]  # column -> NUMBERS, DATES, BOOLEAN or TEXT_NUMBERS
    infinity: str
    notes: list[str] = field(default_factory=list)


def chunk_facts(chunk: pd.DataFrame, exact: bool = False) -> Facts:
    """Facts of a chunk of rows as read (a Spark partition's, say). `exact`: every fact,
    as if the chunk did not decide its columns."""
    return frame_facts(missing_as_nan(chunk), exact)


def frame_facts(frame: pd.DataFrame, exact: bool = False) -> Facts:
    """Facts of a frame whose missing tokens are NaN already (`missing_as_nan`). A whole
    table's facts decide every column: none is left uncounted."""
    columns = {}
    for name, values in frame.items():
        kind = _kind(values)
        if kind == "numeric":
            infinite = 0
            if not pd.api.types.is_integer_dtype(values):
                infinite = int(np.isinf(values.to_numpy("float64", na_value=np.nan)).sum())
            columns[name] = ColumnFacts(kind, infinite=infinite)
        elif kind == "text":
            columns[name] = _text_facts(values.dropna(), exact)
        else:
            columns[name] = ColumnFacts(kind)
    return Facts(len(frame), columns)


def missing_as_nan(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing tokens in text columns as NaN (a shallow copy: other columns are shared)."""
    frame = frame.copy(deep=False)
    for name, values in frame.items():
        if _kind(values) == "text":
            frame[name] = values.mask(is_missing(values), np.nan)
    return frame


def decide(
    facts: Facts, *, infinity: str, non_numeric: str, share: float, dates: str = "features"
) -> Plan:
    """What each column becomes (see raw_tables.conform_frame); BadCells names the first
    column, in column order, whose cells are refused. `share` is above one half."""
    plan = Plan({}, infinity)
    for name, column in facts.columns.items():
        step = _step(name, column, plan, non_numeric=non_numeric, share=share, dates=dates)
        if step:
            plan.steps[name] = step
    return plan


def not_numbers(values: pd.Series) -> np.ndarray:
    """The distinct present values of a text column that are not numbers: what
    TEXT_NUMBERS reads as missing."""
    distinct, counts = _distinct(values.dropna())
    return distinct[_not_numbers(distinct, counts)[0]]


def _kind(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    return "datetime" if pd.api.types.is_datetime64_any_dtype(values) else "text"


def _text_facts(present: pd.Series, exact: bool) -> ColumnFacts:
    facts = ColumnFacts("text", present=len(present))
    if not len(present):
        return facts
    if looks_like_dates(present):
        # As raw_rows.as_dates reads them: cells of the right shape but no date count.
        dates = pd.to_datetime(present.astype(object), format="ISO8601", errors="coerce", utc=True)
        wrong = present[dates.isna().to_numpy()]
        facts = replace(facts, date_errors=len(wrong), date_examples=_smallest(wrong))
        if not exact:
            return replace(facts, distinct=None, unread=None, bad=None)
    else:
        facts = replace(facts, dates=False)
    values, counts = _distinct(present)
    facts = replace(facts, distinct=tuple(values[:KEPT]))
    if not exact and _boolean(facts.distinct):
        return replace(facts, unread=None, bad=None)
    bad, unread, infinite = _not_numbers(values, counts, shortcut=not exact)
    if bad is None:
        return replace(facts, unread=unread, bad=None)
    bad_count = int(counts[bad].sum())
    examples = _smallest(values[bad])
    return replace(facts, unread=unread, bad=bad_count, bad_examples=examples, infinite=infinite)


def _distinct(present: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The distinct present values (in order of appearance) and how many cells hold each:
    a column's cells are read once per distinct value."""
    codes, uniques = pd.factorize(present)
    return np.asarray(uniques, dtype=object), np.bincount(codes, minlength=len(uniques))


def _not_numbers(values: np.ndarray, counts: np.ndarray, shortcut: bool = False):
    """Which distinct values are not numbers (None if not counted), how many cells pandas'
    parser cannot read, and how many are infinite numbers. pandas' parser is a fast first
    pass; values it cannot read get Python's float(), unless they are most cells and
    `shortcut`: a text column, with no need to look closer."""
    parsed = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    unreadable = parsed.isna().to_numpy()
    unread = int(counts[unreadable].sum())
    infinite = int(counts[np.isinf(parsed.to_numpy("float64", na_value=np.nan))].sum())
    if shortcut and unread > counts.sum() / 2:
        return None, unread, infinite
    bad = np.zeros(len(values), dtype=bool)
    for i in np.flatnonzero(unreadable):
        try:
            infinite += int(counts[i]) * bool(np.isinf(float(values[i])))
        except (TypeError, ValueError):
            bad[i] = True
    return bad, unread, infinite


def _sum(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def _boolean(distinct: tuple) -> bool:
    """Every distinct present value is a boolean or the text true/false in any case."""
    if not 0 < len(distinct) < KEPT:
        return False
    return all(
        isinstance(v, bool | np.bool_) or str(v).lower() in ("true", "false") for v in distinct
    )


def _smallest(values) -> tuple[str, ...]:
    """The first SHOWN of the values' distinct texts, in order: the examples quoted."""
    return tuple(sorted({str(v) for v in values})[:SHOWN])


def _step(name: str, facts: ColumnFacts, plan: Plan, **read) -> str | None:
    """What the column becomes, its note added to the plan; BadCells if it is refused."""
    if facts.kind == "numeric":
        return _numbers_step(name, facts, plan)
    rule = facts.rule() if facts.kind == "text" else None
    if facts.kind == "datetime" or rule == DATES:
        if read["dates"] == "error":
            raise BadCells(
                f"column '{name}' holds dates; set read.dates=features to use them, "
                "or list it in data.drop_columns"
            )
        if facts.date_errors:
            raise BadCells(not_dates(name, facts.date_errors, list(facts.date_examples)))
        return DATES
    if facts.kind == "bool":
        return None
    if rule == BOOLEAN:  # true/False/TRUE with gaps: a boolean, not text
        return BOOLEAN
    if rule is None:
        raise ValueError(f"column '{name}': facts some chunk did not count (Facts.uncounted)")
    return _text_step(name, facts, plan, **read)


def _numbers_step(name: str, facts: ColumnFacts, plan: Plan) -> str | None:
    if not facts.infinite:
        return None
    if plan.infinity == "error":
        raise BadCells(infinite_values(name, facts.infinite))
    plan.notes.append(f"column '{name}': infinite values read as missing")
    return NUMBERS


def _text_step(name: str, facts: ColumnFacts, plan: Plan, **read) -> str | None:
    """A text column that is no dates nor booleans: text, or numbers with bad cells."""
    numbers_share = facts.number_share()
    if not facts.bad or numbers_share < read["share"]:
        return None  # text, or numbers already
    examples = list(facts.bad_examples)
    if read["non_numeric"] == "error":
        raise BadCells(
            f"column '{name}': {facts.bad} of its values are not numbers though "
            f"{percent(numbers_share)} are, e.g. {examples}; fix them, or set "
            "read.non_numeric=missing to read them as missing"
        )
    if facts.infinite and plan.infinity == "error":
        raise BadCells(infinite_values(name, facts.infinite))
    plan.notes.append(
        f"column '{name}': {facts.bad} values that are not numbers, e.g. {examples}, "
        "read as missing"
    )
    return TEXT_NUMBERS
