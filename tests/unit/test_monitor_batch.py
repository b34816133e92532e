"""Monitoring a batch: refused when empty or holding a cell the model refuses, labels
typed as in training, rows without a label left out of the score."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from mlops_template.config import parse_config
from mlops_template.core.raw_rows import RawRows
from mlops_template.core.validation_report import SmallClasses
from mlops_template.errors import PipelineError
from mlops_template.io.lineage import file_md5
from mlops_template.io.model_versions import ModelRef, RegisteredVersion
from mlops_template.operate.monitoring.monitor import drift_report, labelled_rows, read_batch

from .conftest import training_schema

SCHEMA = training_schema(
    {"name": "x", "kind": "numeric"},
    {"name": "c", "kind": "categorical"},
    name="label",
    classes=[0, 1],
)


@pytest.fixture
def cfg(params):
    return parse_config(params)


def test_an_empty_batch_is_refused(cfg, tmp_path):
    path = tmp_path / "empty.parquet"
    pd.DataFrame({"x": pd.Series([], dtype="float64"), "c": pd.Series([], dtype="str")}).to_parquet(
        path
    )
    with pytest.raises(PipelineError, match="no rows"):
        read_batch(path, SCHEMA, cfg)


def test_labels_are_typed_as_in_training(cfg, tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text("x,c,label\n1.5,a,1.0\n2.5,b,0.0\n")
    frame = read_batch(path, SCHEMA, cfg)
    assert frame["label"].tolist() == [1, 0] and frame["label"].dtype == "int64"


def test_labels_that_cannot_be_typed_are_refused(cfg, tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text("x,c,label\n1.5,a,yes\n")
    with pytest.raises(PipelineError, match="'label'"):
        read_batch(path, SCHEMA, cfg)


def test_a_batch_with_wrong_columns_is_refused(cfg, tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text("y,c\n1,a\n")
    with pytest.raises(PipelineError, match=r"not monitored[\s\S]*missing columns \['x'\]"):
        read_batch(path, SCHEMA, cfg)


def test_rows_without_a_label_are_left_out_of_the_score(cfg, tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text("x,c,label\n1.5,a,1.0\n2.5,b,\n3.5,a,0\n")
    frame = read_batch(path, SCHEMA, cfg)
    assert frame["label"].isna().tolist() == [False, True, False]
    rows = labelled_rows(frame, SCHEMA)
    assert rows["label"].tolist() == [1, 0] and rows["label"].dtype == "int64"


# A champion as the registry gives it: a model whose first step reads raw cells by the
# contract, its schema, and its training and evaluation data in a DVC cache.
CHAMPION_SCHEMA = training_schema(
    {"name": "x", "kind": "numeric"},
    {"name": "d", "kind": "date", "dtype": "datetime64[us]"},
    name="label",
    classes=[0, 1],
)


def _rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    days = pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    dates = (pd.Timestamp("2024-01-01") + days).astype("datetime64[us]")
    return pd.DataFrame({"x": x, "d": dates, "label": (x > 0).astype("int64")})


@pytest.fixture
def champion(tmp_path, monkeypatch):
    """The champion, in a DVC project (no git) with a local tracking store in tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return _champion(tmp_path, _rows(300, 0))


def _champion(tmp_path: Path, train: pd.DataFrame) -> RegisteredVersion:
    (tmp_path / ".dvc").mkdir(exist_ok=True)
    (tmp_path / ".dvc" / "config").write_text("[core]\n    no_scm = true\n")
    test = _rows(100, 1)
    md5s = []
    for frame in (train, test):
        data = tmp_path / "data.parquet"
        frame.to_parquet(data, index=False)
        md5 = file_md5(data)
        cached = tmp_path / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
        cached.parent.mkdir(parents=True, exist_ok=True)
        data.rename(cached)
        md5s.append(md5)
    model = Pipeline(
        [
            ("read", RawRows(numeric=("x",), dates=("d",))),
            ("model", HistGradientBoostingClassifier(max_iter=10)),
        ]
    ).fit(train[["x", "d"]], train["label"])
    lineage = {"train_md5": md5s[0], "test_md5": md5s[1]}
    return RegisteredVersion(ModelRef("churn", "3", "champion"), model, CHAMPION_SCHEMA, lineage)


def test_a_partly_labelled_batch_is_scored_on_its_labelled_rows(cfg, champion, tmp_path):
    batch = _rows(200, 2).astype({"label": "Int64"})
    batch.loc[batch.index % 10 == 0, "label"] = pd.NA  # 10 % not labelled yet
    path = tmp_path / "batch.csv"
    batch.to_csv(path, index=False)
    report = drift_report(cfg, champion, path)
    perf = report.performance
    assert (perf.labelled_rows, perf.unlabelled_rows, perf.decision) == (180, 20, "in range")
    assert "scored on its 180 labelled rows, 20 without a label left out" in report.summary()


@pytest.mark.parametrize(
    ("cell", "said"),
    [
        ("inf", "column 'x': 1 infinite values"),
        ("soon", "column 'd': 1 values are not ISO 8601 dates, e.g. ['soon']"),
    ],
)
def test_a_cell_the_model_refuses_is_one_line_naming_file_and_column(
    cfg, champion, tmp_path, cell, said
):
    path = tmp_path / "batch.csv"
    _rows(50, 2).to_csv(path, index=False)
    column = "x" if cell == "inf" else "d"
    text = path.read_text().splitlines()
    names = text[0].split(",")
    cells = text[5].split(",")
    cells[names.index(column)] = cell
    path.write_text("\n".join([*text[:5], ",".join(cells), *text[6:]]) + "\n")
    with pytest.raises(PipelineError) as refused:
        drift_report(cfg, champion, path)
    message = str(refused.value)
    assert message.startswith(f"{path}: {said}") and message.endswith("; not monitored")
    assert "\n" not in message
    assert not Path(cfg.monitor.report_dir).exists()  # no report written


def test_labels_of_a_class_training_dropped_are_left_out_not_refused(cfg, champion, tmp_path):
    """Class 7 was too small to learn (validate.small_classes=drop): a batch holding it is
    scored on its other rows, as training read its data; a label never seen at all is
    still refused."""
    batch = _rows(200, 2)
    batch.loc[:4, "label"] = 7
    path = tmp_path / "batch.csv"
    batch.to_csv(path, index=False)
    with pytest.raises(PipelineError, match=r"labels the model was never trained on .*\[7\]"):
        drift_report(cfg, champion, path)
    dropped = SmallClasses(action="drop", classes={"7": 1})
    knowing = dataclasses.replace(champion, schema=champion.schema.with_small_classes(dropped))
    report = drift_report(cfg, knowing, path)
    perf = report.performance
    assert (perf.labelled_rows, perf.unlabelled_rows, perf.dropped_class_rows) == (195, 0, 5)
    assert "195 labelled rows, 5 of a class training dropped left out" in report.summary()
    assert "without a label" not in report.summary()  # they had labels


def test_labelled_rows_the_model_trained_on_are_left_out_of_the_score(cfg, champion, tmp_path):
    """A batch cut from the data the model learned from: its training rows would flatter
    it (the trial's champion scored 0.69 on them and 0.43 on the rest, and the batch was
    called in range), so they are counted and not scored."""
    batch = pd.concat([_rows(300, 0).iloc[:120], _rows(200, 2)], ignore_index=True)
    path = tmp_path / "batch.csv"
    batch.to_csv(path, index=False)
    perf = drift_report(cfg, champion, path).performance
    assert (perf.labelled_rows, perf.trained_rows, perf.unlabelled_rows) == (200, 120, 0)
    fresh = tmp_path / "fresh.csv"
    _rows(200, 2).to_csv(fresh, index=False)
    assert drift_report(cfg, champion, fresh).performance.batch == perf.batch
    assert "200 labelled rows, 120 the model trained on left out" in perf.line()


def test_the_split_key_names_the_rows_the_model_trained_on(params, tmp_path, monkeypatch):
    """With split.key set, rows are matched by it: a training customer whose features
    changed since is still one the model trained on, and a new one whose features equal
    a training row's is new (the key never reached the match: matched on features)."""
    monkeypatch.chdir(tmp_path)
    train = _rows(300, 0).assign(id=[f"c{i}" for i in range(300)])
    champion = _champion(tmp_path, train)
    changed = train.iloc[:40].assign(x=lambda f: f["x"] + 10)  # the same 40 customers
    copies = train.iloc[40:100].assign(id=[f"new{i}" for i in range(60)])  # 60 new ones
    batch = pd.concat([changed, copies, _rows(100, 2).assign(id="x")], ignore_index=True)
    batch.to_csv(tmp_path / "batch.csv", index=False)
    params["split"]["key"] = "id"
    perf = drift_report(parse_config(params), champion, tmp_path / "batch.csv").performance
    assert (perf.trained_rows, perf.labelled_rows) == (40, 160)
