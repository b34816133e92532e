"""One reader contract: the same rows read from a training CSV or Parquet file, or from a
CSV or Parquet batch, reach the model as the same values, and score the same.

A property over generated tables (seeded): numbers with gaps, text with missing values in
every spelling the contract knows, booleans spelt several ways, dates as ISO text (with
and without a time and zone) or timestamps, awkward column names.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from mlops_template.config import Features, FileData
from mlops_template.config.model import LinearModel
from mlops_template.core.models import build_pipeline
from mlops_template.core.raw_rows import MISSING_TOKENS, RawRows
from mlops_template.core.schema import infer_schema
from mlops_template.io.batch_files import iter_chunks
from mlops_template.io.datasets import load_source

NAMES = {
    "num": "monthly spend ($)",
    "int": "visits, last year",
    "cat": "plan.type",
    "bool": "é-mail opt in",
    "date": "signed up",
}
MISSING_SPELLINGS = ["", "NA", "n/a", "null", "None", "NaN", "#N/A"]


def raw_cells(seed: int, rows: int = 120) -> list[dict[str, str]]:
    """Cells as text, as a person's CSV export would have them; the label follows the
    spend and the plan, so a model can learn it."""
    rng = np.random.default_rng(seed)
    cells = []
    for _ in range(rows):
        gap = rng.random(5) < 0.15
        day = pd.Timestamp("2023-01-01") + pd.Timedelta(minutes=int(rng.integers(0, 525_600)))
        spend, plan = float(rng.normal(50, 20)), str(rng.choice(["basic", "pro", "team"]))
        likely = (spend > 55) + (plan == "pro") + rng.normal(0, 0.3)
        cells.append(
            {
                NAMES["num"]: "" if gap[0] else repr(spend),
                NAMES["int"]: rng.choice(MISSING_SPELLINGS) if gap[1] else str(rng.integers(0, 30)),
                NAMES["cat"]: rng.choice(MISSING_SPELLINGS) if gap[2] else plan,
                NAMES["bool"]: "" if gap[3] else rng.choice(["true", "False", "TRUE", "false"]),
                NAMES["date"]: rng.choice(MISSING_SPELLINGS)
                if gap[4]
                else rng.choice([day.date().isoformat(), day.isoformat(), f"{day.isoformat()}Z"]),
                "label": "yes" if likely > 0.5 else "no",
            }
        )
    return cells


def write_csv(cells: list[dict[str, str]], path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(cells[0]))
        writer.writeheader()
        writer.writerows(cells)


def typed_frame(cells: list[dict[str, str]]) -> pd.DataFrame:
    """The same rows as a typed table (a Parquet export): numbers as numbers, text as text
    (its missing spellings kept as written), booleans as nullable booleans."""
    frame = pd.DataFrame(cells)
    for name in (NAMES["num"], NAMES["int"]):
        frame[name] = pd.to_numeric(frame[name].mask(frame[name].isin(MISSING_TOKENS)))
    flag = frame[NAMES["bool"]].str.lower()
    frame[NAMES["bool"]] = flag.map({"true": True, "false": False}).astype("boolean")
    dates = frame[NAMES["date"]].mask(frame[NAMES["date"]].isin(MISSING_TOKENS))
    frame[NAMES["date"]] = pd.to_datetime(dates, format="ISO8601", utc=True)
    return frame


@pytest.mark.parametrize("seed", range(12))
def test_every_reader_gives_the_model_the_same_rows(tmp_path, seed):
    cells = raw_cells(seed)
    csv_path, parquet_path = tmp_path / "rows.csv", tmp_path / "rows.parquet"
    write_csv(cells, csv_path)
    typed_frame(cells).to_parquet(parquet_path)

    def training_reader(path, fmt):
        data = FileData(source="file", format=fmt, path=str(path), target="label", watch="x")
        return load_source(data)

    training = training_reader(csv_path, "csv")
    features = training.drop(columns="label")
    schema = infer_schema(features, training["label"], "classification")
    numeric, categorical = schema.names("numeric"), schema.names("categorical")
    assert numeric == [NAMES["num"], NAMES["int"]]
    assert schema.booleans == (NAMES["bool"],)  # read as a boolean, not as text
    assert schema.dates == (NAMES["date"],)  # a date, not text
    reader = RawRows(tuple(numeric), tuple(categorical), schema.booleans, dates=schema.dates).fit(
        features
    )

    def batch(path):
        return pd.concat(c.to_pandas() for c in iter_chunks(path, schema, 37))

    frames = {
        "training csv": training,
        "training parquet": training_reader(parquet_path, "parquet"),
        "csv batch": batch(csv_path),
        "parquet batch": batch(parquet_path),
    }
    seen = {path: reader.transform(frame.reset_index(drop=True)) for path, frame in frames.items()}
    expected = seen.pop("training csv")
    # Every spelling of missing is missing, and only those.
    for column in (NAMES["int"], NAMES["cat"]):
        written = pd.Series([row[column] for row in cells])
        assert (expected[column].isna() == written.isin(MISSING_SPELLINGS)).all()
    assert set(expected[NAMES["bool"]].dropna()) == {"True", "False"}
    for path, frame in seen.items():
        pd.testing.assert_frame_equal(frame, expected, check_exact=True, obj=path)

    # ...so a model scores them alike, to the last bit.
    model = build_pipeline(
        LinearModel(type="linear"),
        Features(),
        task="classification",
        numeric=numeric,
        categorical=categorical,
        boolean=schema.booleans,
        dates=schema.dates,
        seed=0,
    ).fit(features, training["label"])
    proba = model.predict_proba(frames["training csv"].drop(columns="label"))
    for path, frame in frames.items():
        scored = model.predict_proba(frame[features.columns])
        np.testing.assert_array_equal(scored, proba, err_msg=path)
