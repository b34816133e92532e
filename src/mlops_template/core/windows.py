"""Time windows over the inference log: the last `count` windows of `length`, aligned to
whole multiples of the length since 1970 (a day's windows are calendar days, UTC), the
newest one holding the log's latest row."""

from __future__ import annotations

import pandas as pd


def window_bounds(latest: pd.Timestamp, length: pd.Timedelta, count: int) -> list[tuple]:
    """(start, end) of each window, oldest first; a row at `end` is in the next one."""
    end = latest.floor(length) + length
    return [(end - length * (count - i), end - length * (count - i - 1)) for i in range(count)]


def in_window(times: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    return (times >= start) & (times < end)
