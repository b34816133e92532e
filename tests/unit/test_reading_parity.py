"""One reader contract: the same rows read from a training CSV or Parquet file, or from a
CSV or Parquet batch, reach the model as the same values, and score the same.

A property over generated tables (seeded): numbers with gaps, text with missing values in
every spelling the contract knows, booleans spelt several ways, dates as ISO text (with
and without a time and zone) or timestamps, awkward column names; and the same rows as
other writers store them in Parquet (decimals, dictionary-encoded text, zoned timestamps).
"""

from __future__ import annotations

import csv
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops_template.config import Features
from mlops_template.config.data import FileData
from mlops_template.core.columns import MANY_LEVELS, TEXT, text_encodings
from mlops_template.core.raw_rows import MISSING_TOKENS, RawRows
from mlops_template.core.schema import infer_schema
from mlops_template.errors import PipelineError
from mlops_template.io import batch_files
from mlops_template.io.batch_files import batch_columns, iter_chunks
from mlops_template.io.datasets import load_source
from tests.helpers.models import learner_config, linear_classifier

NAMES = {
    "num": "monthly spend ($)",
    "int": "visits, last year",
    "cat": "plan.type",
    "bool": "é-mail opt in",
    "date": "signed up",
    "notes": "agent's notes",
    "postcode": "post code",
}
MISSING_SPELLINGS = ["", "NA", "n/a", "null", "None", "NaN", "#N/A"]


WORDS = ["late", "delivery", "asked", "for", "refund", "happy", "called", "twice", "new", "card"]


def raw_cells(seed: int, rows: int = 120, text: bool = False) -> list[dict[str, str]]:
    """Cells as text, as a person's CSV export would have them; the label follows the
    spend and the plan, so a model can learn it. With `text`, also free-text notes and a
    postcode of more levels than one-hot keeps (read by words and by target encoding)."""
    rng = np.random.default_rng(seed)
    cells = []
    for _ in range(rows):
        if text:
            words = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 6))))
            extra = {
                NAMES["notes"]: rng.choice(MISSING_SPELLINGS) if rng.random() < 0.1 else words,
                NAMES["postcode"]: f"P-{rng.integers(0, 40):03d}",
            }
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
                **(extra if text else {}),
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


def stored_types(table: pa.Table) -> pa.Table:
    """Typed rows as other writers (Spark, DuckDB, Polars) store them: the spend as
    decimal128 (its text exactly), the plan dictionary-encoded, the dates in a zone other
    than UTC; no pandas metadata."""
    table = table.replace_schema_metadata()
    spend = [None if v is None else Decimal(repr(v)) for v in table[NAMES["num"]].to_pylist()]
    columns = {
        NAMES["num"]: pa.array(spend, pa.decimal128(38, 20)),
        NAMES["cat"]: table[NAMES["cat"]].dictionary_encode(),
        NAMES["date"]: table[NAMES["date"]].cast(pa.timestamp("us", tz="Europe/Paris")),
    }
    for name, column in columns.items():
        table = table.set_column(table.schema.get_field_index(name), name, column)
    return table


@pytest.mark.parametrize(
    ("seed", "text"), [*((seed, False) for seed in range(12)), *((seed, True) for seed in range(4))]
)
def test_every_reader_gives_the_model_the_same_rows(tmp_path, seed, text):
    cells = raw_cells(seed, text=text)
    csv_path, parquet_path = tmp_path / "rows.csv", tmp_path / "rows.parquet"
    stored_path = tmp_path / "stored.parquet"
    write_csv(cells, csv_path)
    typed_frame(cells).to_parquet(parquet_path)
    pq.write_table(stored_types(pq.read_table(parquet_path)), stored_path)

    def training_reader(path, fmt):
        data = FileData(source="file", format=fmt, path=str(path), target="label", watch="x")
        return load_source(data)

    training = training_reader(csv_path, "csv")
    features = training.drop(columns="label")
    encodings = text_encodings(features, list(features.columns), Features().max_categories)
    if text:
        assert encodings == {NAMES["notes"]: TEXT, NAMES["postcode"]: MANY_LEVELS}
    schema = infer_schema(features, training["label"], "classification", encodings)
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
        "training parquet, stored types": training_reader(stored_path, "parquet"),
        "csv batch": batch(csv_path),
        "parquet batch": batch(parquet_path),
        "parquet batch, stored types": batch(stored_path),
    }
    # Stored types change no column's kind, in training or in a batch.
    # Validate reads the text columns alike from every training format.
    for name in ("training parquet", "training parquet, stored types"):
        columns = list(features.columns)
        assert text_encodings(frames[name], columns, Features().max_categories) == encodings
    stored = frames["training parquet, stored types"]
    stored_schema = infer_schema(
        stored[features.columns], stored["label"], "classification", encodings
    )
    assert stored_schema == schema
    columns = batch_columns(csv_path, schema)
    assert batch_columns(stored_path, schema) == {**columns, NAMES["bool"]: False}
    seen = {path: reader.transform(frame.reset_index(drop=True)) for path, frame in frames.items()}
    expected = seen.pop("training csv")
    # Every spelling of missing is missing, and only those.
    for column in (NAMES["int"], NAMES["cat"]):
        written = pd.Series([row[column] for row in cells])
        assert (expected[column].isna() == written.isin(MISSING_SPELLINGS)).all()
    assert set(expected[NAMES["bool"]].dropna()) == {"True", "False"}
    for path, frame in seen.items():
        pd.testing.assert_frame_equal(frame, expected, check_exact=True, obj=path)

    # ...so a model scores them alike, to the last bit: the linear one, and the boosted
    # learners that read text columns as categoricals.
    for learner in (None, learner_config("lightgbm"), learner_config("xgboost")):
        model = linear_classifier(
            features,
            training["label"],
            numeric=numeric,
            categorical=categorical,
            boolean=schema.booleans,
            dates=schema.dates,
            model=learner,
            encodings=encodings,
        )
        proba = model.predict_proba(frames["training csv"].drop(columns="label"))
        for path, frame in frames.items():
            scored = model.predict_proba(frame[features.columns])
            np.testing.assert_array_equal(scored, proba, err_msg=f"{path}, {learner}")


def test_quoted_line_breaks_are_part_of_their_cell_on_every_path(tmp_path, monkeypatch):
    """Text cells holding \\r, \\n or \\r\\n, quoted by a standard CSV writer: training and
    batches read them as the cell's text, also where a block Arrow parses at a time ends
    inside one (blocks of 256 bytes here: the file spans many)."""
    breaks = ["\r", "\n", "\r\n", " "]
    cells = [
        {"id": str(i), "note": f"tweet {i}{breaks[i % 4]}and on", "label": "yes" if i % 3 else "no"}
        for i in range(200)
    ]
    path = tmp_path / "tweets.csv"
    write_csv(cells, path)
    data = FileData(source="file", format="csv", path=str(path), target="label", watch="x")
    training = load_source(data)
    assert training["note"].tolist() == [row["note"] for row in cells]
    features = training.drop(columns="label")
    schema = infer_schema(features, training["label"], "classification")
    monkeypatch.setattr(batch_files, "CSV_BLOCK", 256)
    batch = pd.concat(c.to_pandas() for c in iter_chunks(path, schema, 64))
    assert batch["note"].tolist() == [row["note"] for row in cells]


def test_a_carriage_return_outside_quotes_is_refused_on_every_path(tmp_path):
    """A writer that ends lines with \\n may leave a \\r in a cell unquoted (Python 3.11's
    csv module, pandas.to_csv): every CSV reader ends the row there. Training would read
    the halves as rows with missing values; both paths refuse, naming the line."""
    path = tmp_path / "tweets.csv"
    path.write_bytes(b'n,note,label\n1,fine,yes\n2,"quoted\rcell",no\n3,split\rhere,no\n')
    data = FileData(source="file", format="csv", path=str(path), target="label", watch="x")
    said = r"tweets\.csv: line 4 holds a carriage return \(\\r\) outside quotes"
    with pytest.raises(PipelineError, match=said):
        load_source(data)
    path.write_bytes(path.read_bytes().replace(b"split\rhere", b"split here"))
    training = load_source(data)
    assert training["note"].tolist() == ["fine", "quoted\rcell", "split here"]
    schema = infer_schema(training[["n", "note"]], training["label"], "classification")
    path.write_bytes(path.read_bytes().replace(b"split here", b"split\rhere"))
    with pytest.raises(PipelineError, match=said):
        batch_columns(path, schema)


def test_a_batch_column_empty_in_every_row_is_missing_on_every_path(tmp_path):
    """pandas writes a column of None only to Parquet as Arrow's null type: a numeric
    feature so was refused ("not numeric"), where the same rows as CSV read it missing (a
    feed that stopped filling it: what monitor's missing-share test is for)."""
    training_csv = tmp_path / "training.csv"
    write_csv(raw_cells(0), training_csv)
    data = FileData(source="file", format="csv", path=str(training_csv), target="label", watch="x")
    training = load_source(data)
    features = training.drop(columns="label")
    schema = infer_schema(features, training["label"], "classification")
    reader = RawRows(
        tuple(schema.names("numeric")),
        tuple(schema.names("categorical")),
        schema.booleans,
        dates=schema.dates,
    ).fit(features)
    emptied = [NAMES[kind] for kind in ("num", "int", "bool", "date")]  # the plan kept
    cells = [{**row, **dict.fromkeys(emptied, "")} for row in raw_cells(1)]
    csv_path, parquet_path = tmp_path / "batch.csv", tmp_path / "batch.parquet"
    write_csv(cells, csv_path)
    pd.DataFrame(cells).assign(**dict.fromkeys(emptied, None)).to_parquet(parquet_path)
    assert {pq.read_schema(parquet_path).field(name).type for name in emptied} == {pa.null()}
    read = {}
    for path in (csv_path, parquet_path):
        problems, _ = batch_files.check_columns(
            schema,
            batch_columns(path, schema),
            allowed_extra={"label"},
            extra_policy="error",
            source=str(path),
        )
        assert problems == [], path
        rows = pd.concat(c.to_pandas() for c in iter_chunks(path, schema, 37))
        read[path] = reader.transform(rows[features.columns].reset_index(drop=True))
    assert read[csv_path][emptied[:3]].isna().all().all()  # the date is read into parts
    pd.testing.assert_frame_equal(read[parquet_path], read[csv_path], check_exact=True)
