"""A stable identity for each row: the same values give the same id, whatever the dtype
the column was read with (an int column that gained a missing value reads as float),
the column order, or the other rows in the frame. The split and the gate use it to know
which rows a model trained on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

_MISSING_NUMBER = np.uint64(0x7FF8_DEAD_BEEF_0001)  # one id for every NaN bit pattern
_MISSING_TEXT = "\x00<missing>"
_GOLDEN = np.uint64(0x9E37_79B9_7F4A_7C15)


def _canonical(column: pd.Series) -> np.ndarray:
    """Numbers as the bits of their float64 value; everything else as its text."""
    if _is_number(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan) + 0.0  # -0.0 is 0.0
        bits = values.view("uint64").copy()
        bits[np.isnan(values)] = _MISSING_NUMBER
        return bits
    return column.astype("string").fillna(_MISSING_TEXT).to_numpy(dtype=object)


def row_ids(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One uint64 per row from the values of `columns` (in any order): pandas'
    hash_pandas_object of the frame of canonical columns, computed a column at a time so
    that no copy of the whole table is made (at 1e7 rows of 30 columns, gigabytes)."""
    ordered = sorted(columns, key=str)
    hashes = (
        pd.util.hash_pandas_object(pd.Series(_canonical(frame[c])), index=False).to_numpy()
        for c in ordered
    )
    return _combined(hashes, len(ordered), len(frame))


def _combined(hashes: Iterator[np.ndarray], count: int, rows: int) -> np.ndarray:
    """Column hashes combined as pandas combines a frame's (pandas.core.util.hashing's
    combine_hash_arrays: tests/unit/test_split.py holds them equal)."""
    out = np.full(rows, 0x345678, dtype=np.uint64)
    multiplier = np.uint64(1000003)
    for i, column in enumerate(hashes):
        out ^= column
        out *= multiplier
        multiplier += np.uint64(82520 + 2 * (count - i))
    return out + np.uint64(97531)


def uniform(ids: np.ndarray, seed: int, stream: int = 0) -> np.ndarray:
    """A number in [0, 1) per id, fixed for a seed: a different seed, a different draw.
    Streams are independent draws for one seed (the split is 0, the model's
    cross-validation folds 1), so folds do not follow the train/test cut."""
    salt = np.uint64((seed * int(_GOLDEN)) % 2**64)  # wraps, as a hash should
    salted = ids ^ salt
    mixed = pd.util.hash_array(salted if not stream else pd.util.hash_array(salted) + stream)
    return (mixed >> np.uint64(11)).astype("float64") / float(2**53)


def shared_identity(key: str | None, features: list[str], frames: list[pd.DataFrame]) -> list[str]:
    """What names a row in all `frames`: the split key where they all have it, else the
    features they all have (a column added to the data since a model is in none of its
    rows; matching on fewer columns only counts more rows as seen)."""
    if key and all(key in f for f in frames):
        return [key]
    return [c for c in features if all(c in f for f in frames)]


class KnownRows:
    """Rows a model trained on, as monitor matches batches or log windows against them:
    their ids computed once per set of identifying columns, not once per window."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._ids: dict[tuple[tuple[str, ...], tuple[str, ...]], np.ndarray] = {}

    def seen(
        self, rows: pd.DataFrame, key: str | None, features: list[str], dates: Sequence[str] = ()
    ) -> np.ndarray:
        """Which of `rows` are known (shared_identity); none where no column is shared.
        `dates`, the schema's date columns, are compared as instants (_dated)."""
        columns = tuple(shared_identity(key, features, [rows, self.frame]))
        if not columns:
            return np.zeros(len(rows), dtype=bool)
        dated = _dated(rows, self.frame, columns, dates)
        if (columns, dated) not in self._ids:
            self._ids[columns, dated] = row_ids(_utc_dates(self.frame, dated), list(columns))
        rows = _as_known(_utc_dates(rows, dated), self.frame, columns)
        return np.isin(row_ids(rows, list(columns)), self._ids[columns, dated])


def _dated(
    rows: pd.DataFrame, known: pd.DataFrame, columns: tuple[str, ...], dates: Sequence[str]
) -> tuple[str, ...]:
    """The columns of dates, `dates` or timestamps on either side: a batch or the log may
    hold them as text in another spelling, or in a zone, where the training rows hold them
    as timestamps or as text."""
    is_date = pd.api.types.is_datetime64_any_dtype
    return tuple(c for c in columns if c in dates or is_date(rows[c]) or is_date(known[c]))


def _utc_dates(frame: pd.DataFrame, dated: tuple[str, ...]) -> pd.DataFrame:
    """`frame` with its `dated` columns as UTC timestamps without zone, as the model reads
    dates (core/raw_rows.as_dates; here text that is no date is missing, not an error)."""
    if not dated:
        return frame
    return frame.assign(**{c: _utc(frame[c]) for c in dated})


def _utc(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        if values.dt.tz is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return values.astype("datetime64[us]")
    text = values.astype("string")
    dates = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    return dates.dt.tz_localize(None).astype("datetime64[us]")


def _as_known(rows: pd.DataFrame, known: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """`rows` with a text column read as numbers where the known rows hold numbers: the
    inference log keeps a passed-through ID as text ("119"), training read it as 119."""
    numeric = [
        c
        for c in columns
        if _is_number(known[c])
        and not _is_number(rows[c])
        and not pd.api.types.is_bool_dtype(rows[c])
    ]
    if not numeric:
        return rows
    return rows.assign(**{c: pd.to_numeric(rows[c], errors="coerce") for c in numeric})


def _is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def seen(
    frame: pd.DataFrame, known: pd.DataFrame, columns: list[str], dates: Sequence[str] = ()
) -> np.ndarray:
    """Which rows of `frame` have the same values in `columns` as some row of `known`
    (`dates` and timestamps compared as instants: _dated)."""
    dated = _dated(frame, known, tuple(columns), dates)
    return np.isin(
        row_ids(_utc_dates(frame, dated), columns), row_ids(_utc_dates(known, dated), columns)
    )
