"""Simulated batches: drawn from held-out rows, moved as asked, labels kept or dropped."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops_template.core.simulation import simulated_batch
from tests.helpers.template import Template, example_params_text

from .conftest import training_schema

SCHEMA = training_schema(
    {"name": "x", "kind": "numeric"},
    {"name": "y", "kind": "numeric"},
    {"name": "c", "kind": "categorical", "categories": ["a", "b", "c"]},
    name="label",
)


@pytest.fixture
def held_out() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(0, 2, 200),
            "y": rng.normal(5, 1, 200),
            "c": rng.choice(["a", "b", "c", None], 200),
            "label": rng.integers(0, 2, 200),
        }
    )


def batch(held_out, **options):
    settings = {"rows": 150, "drift": 0.0, "drifted_share": 1.0, "labels": True, "seed": 0}
    return simulated_batch(held_out, SCHEMA, **{**settings, **options})


def test_without_drift_rows_are_held_out_rows(held_out):
    frame, moved = batch(held_out)
    assert moved == [] and len(frame) == 150 and list(frame.columns) == list(held_out.columns)
    merged = frame.merge(held_out.drop_duplicates(), how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    assert batch(held_out)[0].equals(frame)  # seeded


def test_another_batch_name_draws_other_rows(held_out):
    """Two batches simulated with the same seed held the same rows, only their keys
    differed: once ct added both, each row counted twice in training."""
    numbered = held_out.assign(row=range(len(held_out)))
    may = batch(numbered, rows=50, batch_name="may")[0]
    june = batch(numbered, rows=50, batch_name="june")[0]
    assert not may["row"].equals(june["row"]) and june["row"].isin(may["row"]).mean() < 0.5
    assert batch(numbered, rows=50, batch_name="may")[0].equals(may)  # a name's own rows


def test_no_held_out_row_is_drawn_twice(held_out):
    # A row drawn twice reads as drift, and leaks once ct adds the batch to the data.
    frame, _ = batch(held_out.assign(row=range(len(held_out))), rows=1000)
    assert len(frame) == len(held_out) and frame["row"].is_unique


def test_asked_for_more_rows_than_held_out_simulate_says_it_gave_all(project):
    done = project.main("simulate", "out.parquet", "--rows", "1000")
    assert len(pd.read_parquet(project.root / "out.parquet")) == 200
    assert "holds 200 rows, so the batch has 200, not 1000" in done.stderr
    assert "written to out.parquet: 200 rows" in done.stderr


def test_drift_shifts_numbers_by_standard_deviations_and_swaps_categories(held_out):
    calm, _ = batch(held_out, seed=3)
    moved_frame, moved = batch(held_out, drift=1.5, seed=3)
    assert moved == ["x", "y", "c"]
    shift = moved_frame["x"] - calm["x"]
    assert np.allclose(shift, 1.5 * held_out["x"].std())
    changed = (moved_frame["c"] != calm["c"]) & calm["c"].notna()
    assert changed.mean() > 0.5  # a share of 1 swaps every present value
    assert moved_frame.loc[calm["c"] == "c", "c"].eq("a").all()  # the last becomes the first
    assert moved_frame["c"].isna().equals(calm["c"].isna())


def test_a_boolean_column_drifts_as_booleans_and_writes_to_parquet(held_out, tmp_path):
    """A CT trial: drift on the demo's `autopay` made it half text, half booleans, and a
    Parquet batch failed to write ("Expected bytes, got a 'bool' object")."""
    schema = training_schema(
        {"name": "x", "kind": "numeric"},
        {"name": "autopay", "kind": "categorical", "categories": ["False", "True"]},
        name="label",
    )
    flags = held_out.assign(autopay=np.arange(len(held_out)) % 3 == 0)
    settings = {"rows": 100, "drifted_share": 1.0, "labels": True, "seed": 0}
    calm, _ = simulated_batch(flags, schema, drift=0.0, **settings)
    moved_frame, _ = simulated_batch(flags, schema, drift=1.0, **settings)
    assert moved_frame["autopay"].dtype == bool
    assert (moved_frame["autopay"] == ~calm["autopay"]).all()  # a share of 1 swaps all
    moved_frame.to_parquet(tmp_path / "batch.parquet")
    gaps = flags.assign(autopay=flags["autopay"].astype(object).where(flags.index % 7 > 0))
    moved_gaps, _ = simulated_batch(gaps, schema, drift=1.0, **settings)  # objects, with gaps
    assert set(moved_gaps["autopay"].dropna().map(type)) == {bool}
    moved_gaps.to_parquet(tmp_path / "gaps.parquet")


def test_drift_moves_dates_later_by_their_spread(held_out):
    schema = training_schema(
        {"name": "x", "kind": "numeric"},
        {"name": "signed_up", "kind": "date", "dtype": "datetime64[us]"},
        name="label",
    )
    days = np.random.default_rng(1).integers(0, 900, len(held_out))
    dated = held_out.assign(signed_up=pd.Timestamp("2023-01-01") + pd.to_timedelta(days, "D"))
    dated.loc[::10, "signed_up"] = pd.NaT
    settings = {"rows": 100, "drifted_share": 1.0, "labels": True, "seed": 0}
    calm, _ = simulated_batch(dated, schema, drift=0.0, **settings)
    moved_frame, moved = simulated_batch(dated, schema, drift=2.0, **settings)
    assert moved == ["x", "signed_up"]
    shift = (moved_frame["signed_up"] - calm["signed_up"]).dropna()
    assert (shift == 2.0 * dated["signed_up"].std()).all() and len(shift) > 80
    assert moved_frame["signed_up"].isna().equals(calm["signed_up"].isna())


def test_drifted_share_and_labels(held_out):
    frame, moved = batch(held_out, drift=1.0, drifted_share=0.34, labels=False)
    assert len(moved) == 1 and "label" not in frame


@pytest.fixture
def project(tmp_path, held_out):
    """A project folder with the trained schema and held-out rows `simulate` reads."""
    (tmp_path / "params.yaml").write_text(example_params_text())
    (tmp_path / "models").mkdir()
    (tmp_path / "models/schema.json").write_text(json.dumps(SCHEMA.as_json()))
    (tmp_path / "data/prepared").mkdir(parents=True)
    held_out.to_parquet(tmp_path / "data/prepared/test.parquet")
    return Template(tmp_path)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--rows", "0"),
        ("--rows", "-5"),
        ("--drift", "nan"),
        ("--drift", "inf"),
        ("--drift", "-1"),
        ("--drifted-share", "nan"),
        ("--drifted-share", "0"),
        ("--seed", "-1"),
    ],
)
def test_simulate_refuses_a_bad_option_naming_it(project, option, value):
    done = project.main("simulate", "out.csv", option, value, check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: simulate {option} must"), lines
    assert not (project.root / "out.csv").exists()


def test_simulate_writes_a_batch_with_good_options(project):
    project.main("simulate", "out.csv", "--rows", "7", "--drift", "0.5")
    assert len(pd.read_csv(project.root / "out.csv")) == 7


def test_with_a_split_key_the_rows_are_new_customers(held_out):
    keyed = held_out.assign(customer_id=[f"C-{i}" for i in range(len(held_out))])
    settings = {"rows": 50, "drift": 0.0, "drifted_share": 1.0, "labels": True, "seed": 4}
    may, _ = simulated_batch(keyed, SCHEMA, key="customer_id", batch_name="may", **settings)
    assert may["customer_id"].is_unique and may["customer_id"].iloc[0] == "may-0000000"
    assert not may["customer_id"].isin(keyed["customer_id"]).any()
    june, _ = simulated_batch(keyed, SCHEMA, key="customer_id", batch_name="june", **settings)
    assert not june["customer_id"].isin(may["customer_id"]).any()  # another batch
    numbered = held_out.assign(customer_id=range(100, 100 + len(held_out)))  # 100..299
    may, _ = simulated_batch(numbered, SCHEMA, key="customer_id", batch_name="may", **settings)
    keys = may["customer_id"]
    assert keys.min() > 299 and keys.dtype == "int64" and keys.diff().iloc[1:].eq(1).all()
    # Numbers after the largest, in a range of the name's own: two batches simulated
    # before either was added to the data had the same keys, and labels for one
    # labelled the other.
    june, _ = simulated_batch(numbered, SCHEMA, key="customer_id", batch_name="june", **settings)
    assert june["customer_id"].min() > 299 and not june["customer_id"].isin(keys).any()
    again, _ = simulated_batch(numbered, SCHEMA, key="customer_id", batch_name="may", **settings)
    assert again["customer_id"].equals(keys)  # as a name's text keys: the same each time
    floats = numbered.assign(customer_id=numbered["customer_id"].astype(float) * 1e12)
    big, _ = simulated_batch(floats, SCHEMA, key="customer_id", batch_name="may", **settings)
    assert big["customer_id"].min() > floats["customer_id"].max()
    assert big["customer_id"].max() < 2**53  # still exact as a float
    for dtype in ("int32", "Int32", "uint32", "float32"):  # keys the dtype holds exactly
        small = numbered.assign(customer_id=numbered["customer_id"].astype(dtype))
        keyed, _ = simulated_batch(small, SCHEMA, key="customer_id", batch_name="may", **settings)
        assert keyed["customer_id"].dtype == dtype and keyed["customer_id"].is_unique, dtype
        assert keyed["customer_id"].min() > 299, dtype


def test_numbered_keys_follow_the_whole_data_sets_largest(project, held_out):
    """Numbered after the test side's largest key only, new rows took training rows'
    keys; once ct added them, labels by key matched both."""
    params = yaml.safe_load((project.root / "params.yaml").read_text())
    params["split"]["key"] = "customer_id"
    (project.root / "params.yaml").write_text(yaml.safe_dump(params))
    held_out.assign(customer_id=range(len(held_out))).to_parquet(
        project.root / "data/prepared/test.parquet"
    )
    raw = project.root / params["paths"]["raw"]
    raw.parent.mkdir(parents=True)
    pd.DataFrame({"customer_id": [5, 950, 12]}).to_parquet(raw)  # a training row's key
    project.main("simulate", "out.csv", "--rows", "3")
    keys = pd.read_csv(project.root / "out.csv")["customer_id"]
    assert keys.min() > 950 and keys.tolist() == list(range(keys.min(), keys.min() + 3))
