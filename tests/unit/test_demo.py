"""The bundled demo table: what real tables have, the same rows for the same seed."""

from __future__ import annotations

import pandas as pd

from mlops_template.config.data import DemoData
from mlops_template.core.raw_rows import looks_like_dates
from mlops_template.io.datasets import load_source


def demo(**changes) -> DemoData:
    values = {"source": "demo", "name": "customers", "target": "churned", "watch": "uv.lock"}
    return DemoData(**{**values, "id_column": "customer_id", **changes})


def test_same_seed_same_rows_other_seed_other_rows():
    pd.testing.assert_frame_equal(load_source(demo()), load_source(demo()))
    assert not load_source(demo()).equals(load_source(demo(seed=1)))


def test_it_has_an_id_a_date_categoricals_missing_cells_and_a_minority_class():
    frame = load_source(demo(n_rows=3000))
    assert len(frame) == 3000 and frame["customer_id"].is_unique
    assert pd.api.types.is_datetime64_any_dtype(frame["signup_date"])  # read as a date
    assert set(frame["plan"]) == {"basic", "standard", "premium"}
    missing = frame.isna().mean()
    assert missing[["region", "monthly_charges", "last_login_days"]].between(0.01, 0.12).all()
    assert missing[["customer_id", "churned"]].eq(0).all()
    churn = frame["churned"].value_counts(normalize=True)
    assert 0.12 < churn["yes"] < 0.25  # a minority class, above validate's rare share


def test_its_dates_are_iso_text_as_a_csv_holds_them():
    from mlops_template.core.demo import customers

    assert looks_like_dates(customers(50, 0)["signup_date"])
