"""The raw-row contract: how a row's cells are read, the same on every path.

Rows reach the model from the training file, CSV and Parquet batches, REST (JSON) and
Spark, each with its own idea of a missing value and of a type. The model's first step
(`RawRows`) applies this contract, so every path hands the model the same values, and
`collect` reads training data by it too:

- missing: None, NaN, or a text cell that is exactly one of MISSING_TOKENS (pandas'
  read_csv defaults: "", "NA", "n/a", "null", "None", ...);
- a numeric column holds float64: numbers as they are, text cells parsed as numbers;
  infinity is refused or read as missing (`read.infinity`);
- a categorical column holds text: booleans as "True"/"False" (from any case of
  true/false), other values as their text;
- a date column (timestamps, or ISO 8601 text) becomes numbers the model can use on
  dates it has never seen: year, month, day, weekday and days since 1970 (UTC); never
  category levels;
- a column the model knows but a request leaves out (REST marks only columns with
  missing values in training as optional) is missing in every row;
- a Parquet column is read by its values: a dictionary-encoded one as the plain column, a
  decimal one as the numbers its text says (`raw_tables.plain_arrow`); lists, structs
  and maps are refused, naming the column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

# pandas.read_csv's default missing-value markers (pandas._libs.parsers.STR_NA_VALUES),
# written out so the contract does not move with a pandas release.
MISSING_TOKENS = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)
SHOWN = 5  # bad values quoted in a message


class BadCells(ValueError):
    """Cells the contract refuses (text in a numeric column, infinity), column named."""


def infinite_values(name: str, count: int) -> str:
    return (
        f"column '{name}': {count} infinite values (set read.infinity=missing to read them "
        "as missing)"
    )


def not_dates(name: str, count: int, examples: list[str]) -> str:
    return f"column '{name}': {count} values are not ISO 8601 dates, e.g. {examples}"


def is_missing(values: pd.Series) -> np.ndarray:
    """Missing cells under the contract: null, NaN, or a missing token in a text cell."""
    missing = values.isna().to_numpy(copy=True)
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        missing |= values.isin(MISSING_TOKENS).to_numpy()
    return missing


def as_text(values: pd.Series, boolean: bool = False) -> pd.Series:
    """A categorical column as text (object dtype, NaN where missing). A cell holding a
    mapping or a list (nested JSON in a REST request) raises BadCells: its text would be
    Python's, a category nobody meant."""
    # infer_dtype says "mixed..." for a column holding anything beside text and numbers.
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True).startswith("mixed"):
        nested = [v for v in values if isinstance(v, dict | list | tuple | set)]
        if nested:
            shown = [r if len(r := repr(v)) <= 60 else f"{r[:57]}..." for v in nested[:3]]
            raise BadCells(
                f"column '{values.name}': {len(nested)} values are not text, numbers or "
                f"true/false, e.g. {', '.join(shown)}"
            )
    missing = is_missing(values)
    text = values.astype(object).map(str)
    if boolean:
        lowered = text.str.lower()
        text = text.mask(lowered == "true", "True").mask(lowered == "false", "False")
    return text.mask(missing, np.nan)


def as_numbers(values: pd.Series, name: str, infinity: str = "error") -> pd.Series:
    """A numeric column as float64 (NaN where missing); text that is not a number, or
    infinity under infinity='error', raises BadCells naming the column."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = pd.Series(values.to_numpy(dtype="float64", na_value=np.nan), index=values.index)
    else:
        missing = is_missing(values)
        parsed, bad = [], []
        for value, gap in zip(values.tolist(), missing, strict=True):
            number = np.nan
            if not gap:
                try:
                    number = float(value)  # correctly rounded, as Arrow's and JSON's parsers
                except (TypeError, ValueError):
                    bad.append(value)
            parsed.append(number)
        if bad:
            raise BadCells(
                f"column '{name}': {len(bad)} values are not numbers, e.g. "
                f"{sorted({str(v) for v in bad})[:SHOWN]}"
            )
        numbers = pd.Series(parsed, index=values.index, dtype="float64")
    infinite = np.isinf(numbers.to_numpy())
    if infinite.any():
        if infinity == "error":
            raise BadCells(infinite_values(name, int(infinite.sum())))
        numbers = numbers.mask(infinite, np.nan)
    return numbers


DATE_PARTS = ("year", "month", "day", "weekday", "days")
_ISO_DATE = r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?"
_DAY_US = 86_400_000_000


def date_features(name: str) -> list[str]:
    """The numeric columns a date column becomes."""
    return [f"{name}_{part}" for part in DATE_PARTS]


def looks_like_dates(values: pd.Series) -> bool:
    """Every present cell is ISO 8601 text (2024-03-05, with a time and zone or not)."""
    present = values.dropna()
    return not present.empty and bool(present.astype(str).str.fullmatch(_ISO_DATE).all())


def as_dates(values: pd.Series, name: str) -> pd.Series:
    """A date column as UTC timestamps without zone, in microseconds (NaT where missing):
    zoned values are converted to UTC, zoneless ones taken as UTC."""
    if pd.api.types.is_datetime64_any_dtype(values):
        dates = values if values.dt.tz is None else values.dt.tz_convert("UTC").dt.tz_localize(None)
    else:
        missing = is_missing(values)
        # Text only: pandas reads numbers given a format as epochs from version 4.
        text = values.astype(str).mask(missing, None)
        dates = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        bad = ~missing & dates.isna().to_numpy()
        if bad.any():
            examples = sorted({str(v) for v in values[bad]})[:SHOWN]
            raise BadCells(not_dates(name, int(bad.sum()), examples))
        dates = dates.dt.tz_localize(None)
    return dates.astype("datetime64[us]")


def _days(dates: pd.Series) -> pd.Series:
    """Days since 1970 (UTC), counted from whole microseconds: every path gets the same float."""
    ticks = dates.to_numpy().astype("int64").astype("float64")
    return pd.Series(np.where(dates.isna(), np.nan, ticks / _DAY_US), index=dates.index)


def as_days(values: pd.Series, name: str) -> pd.Series:
    """A date column as days since 1970 (float64, NaN where missing)."""
    return _days(as_dates(values, name))


def date_parts(values: pd.Series, name: str) -> dict[str, pd.Series]:
    """A date column's numeric features (float64, NaN where missing)."""
    dates = as_dates(values, name)
    parts = {
        "year": dates.dt.year,
        "month": dates.dt.month,
        "day": dates.dt.day,
        "weekday": dates.dt.day_of_week,
        "days": _days(dates),
    }
    return {f"{name}_{key}": part.astype("float64") for key, part in parts.items()}


class RawRows(TransformerMixin, BaseEstimator):
    """The contract as the model's first step: raw columns in, typed columns out."""

    def __init__(
        self,
        numeric: tuple[str, ...] = (),
        categorical: tuple[str, ...] = (),
        boolean: tuple[str, ...] = (),
        infinity: str = "error",
        dates: tuple[str, ...] = (),
    ) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.boolean = boolean
        self.infinity = infinity
        self.dates = dates

    def fit(self, X: Any, y: Any = None) -> RawRows:
        self.feature_names_in_ = np.asarray(
            [*self.numeric, *self.dates, *self.categorical], dtype=object
        )
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        absent = pd.Series(np.nan, index=frame.index, dtype=object)
        columns = {}
        for name in self.numeric:
            columns[name] = as_numbers(frame.get(name, absent), name, self.infinity)
        for name in self.dates:
            columns.update(date_parts(frame.get(name, absent), name))
        for name in self.categorical:
            columns[name] = as_text(frame.get(name, absent), name in self.boolean)
        # A column apiece, not one block: a float64 column stays the caller's array (no
        # copy of the table; copy-on-write keeps the caller's frame as it is).
        return pd.DataFrame(columns, index=frame.index, copy=False)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        derived = [f for name in self.dates for f in date_features(name)]
        return np.asarray([*self.numeric, *derived, *self.categorical], dtype=object)
