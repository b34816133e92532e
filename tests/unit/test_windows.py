"""Time windows over the inference log: aligned, the newest holding the latest row."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from mlops_template.config import Config
from mlops_template.core.windows import in_window, window_bounds


def test_day_windows_are_utc_days_ending_with_the_latest_row():
    latest = pd.Timestamp("2026-03-05 17:20", tz="UTC")
    bounds = window_bounds(latest, pd.Timedelta("1D"), 3)
    assert [(s.isoformat(), e.isoformat()) for s, e in bounds] == [
        ("2026-03-03T00:00:00+00:00", "2026-03-04T00:00:00+00:00"),
        ("2026-03-04T00:00:00+00:00", "2026-03-05T00:00:00+00:00"),
        ("2026-03-05T00:00:00+00:00", "2026-03-06T00:00:00+00:00"),
    ]
    times = pd.Series(pd.to_datetime(["2026-03-04 23:59:59", "2026-03-05 00:00:00"], utc=True))
    assert in_window(times, *bounds[1]).tolist() == [True, False]  # the end is the next one's


@pytest.mark.parametrize("window", ["soon", "0s", "-1h"])
def test_a_window_that_is_not_a_length_of_time_is_refused(params, window):
    params["monitor"]["window"] = window
    with pytest.raises(ValidationError, match=r"length of time|longer than nothing"):
        Config.model_validate(params)
