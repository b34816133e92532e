"""A stable identity for each row: the same values give the same id, whatever the dtype
the column was read with (an int column that gained a missing value reads as float),
the column order, or the other rows in the frame. The split and the gate use it to know
which rows a model trained on."""

from __future__ import annotations

from collections.abc import Iterator

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
        self._ids: dict[tuple[str, ...], np.ndarray] = {}

    def seen(self, rows: pd.DataFrame, key: str | None, features: list[str]) -> np.ndarray:
        """Which of `rows` are known (shared_identity); none where no column is shared."""
        columns = tuple(shared_identity(key, features, [rows, self.frame]))
        if not columns:
            return np.zeros(len(rows), dtype=bool)
        if columns not in self._ids:
            self._ids[columns] = row_ids(self.frame, list(columns))
        return np.isin(
            row_ids(_as_known(rows, self.frame, columns), list(columns)), self._ids[columns]
        )


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


def seen(frame: pd.DataFrame, known: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Which rows of `frame` have the same values in `columns` as some row of `known`."""
    return np.isin(row_ids(frame, columns), row_ids(known, columns))
