"""Batch scoring with the registered champion into a real Delta table, read back."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable

from mlops_template.io.lineage import file_md5
from mlops_template.io.model_file import load_model
from tests.e2e.customers import customer_frame, data_path, use_csv
from tests.helpers.template import Template

pytestmark = pytest.mark.slow

TABLE = "data/predictions"


def batch(copy: Template, rows: int | None = None) -> pd.DataFrame:
    test = pd.read_parquet(copy.path("data/prepared/test.parquet")).drop(columns="target")
    if rows:
        test = pd.concat([test] * (rows // len(test) + 1), ignore_index=True).head(rows)
    return test


def table_version(copy: Template) -> int | None:
    path = str(copy.path(TABLE))
    return DeltaTable(path).version() if DeltaTable.is_deltatable(path) else None


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_batch_scored_into_delta_and_read_back(copy, tmp_path, suffix):
    frame = batch(copy)
    path = tmp_path / f"batch.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    done = copy.main("predict", str(path))
    assert "rows appended" in done.stderr
    rows = DeltaTable(str(copy.path(TABLE))).to_pandas().sort_values("row_number")
    assert len(rows) == len(frame) and rows["row_number"].tolist() == list(range(len(frame)))
    model = load_model(copy.path("models/model.skops"))
    assert rows["prediction"].tolist() == [str(p) for p in model.predict(frame)]
    np.testing.assert_allclose(rows[["proba_0", "proba_1"]], model.predict_proba(frame))
    assert set(rows["model_name"]) == {"mlops-template"}
    assert set(rows["model_version"]) == {"1"} and set(rows["model_alias"]) == {"champion"}
    assert set(rows["batch_hash"]) == {file_md5(path)}
    assert rows["scored_at"].notna().all()

    again = copy.main("predict", str(path))
    assert "already in" in again.stderr and "nothing to do" in again.stderr
    assert copy.main("predict", str(path), "--version", "1").stderr.count("already in") == 1
    assert len(DeltaTable(str(copy.path(TABLE))).to_pandas()) == len(frame)


def test_large_batch_in_chunks_is_one_commit(copy, tmp_path):
    copy.main("params", "compose", "predict.chunk_rows=250", "predict.passthrough_columns=[id]")
    frame = batch(copy, rows=2000)
    frame.insert(0, "id", [f"row-{i}" for i in range(len(frame))])
    path = tmp_path / "big.parquet"
    frame.to_parquet(path, row_group_size=300)
    copy.main("predict", str(path))
    table = DeltaTable(str(copy.path(TABLE)))
    assert table.version() == 0  # a single transaction
    rows = table.to_pandas()
    assert len(rows) == 2000 and rows["row_number"].nunique() == 2000
    assert (rows.set_index("row_number")["id"].sort_index() == frame["id"]).all()


def _refused(copy, path, *expected):
    before = table_version(copy)
    done = copy.main("predict", str(path), check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    for text in expected:
        assert text in done.stderr, done.stderr
    assert table_version(copy) == before


def test_bad_batches_write_nothing(copy, tmp_path):
    frame = batch(copy)
    copy.main("predict", str(_write(tmp_path / "ok.parquet", frame)))  # a table to protect
    _refused(
        copy,
        _write(tmp_path / "missing.csv", frame.drop(columns=["mean radius"])),
        "missing columns ['mean radius']",
    )
    typed = frame.astype({"mean texture": "str"})
    typed.loc[5, "mean texture"] = "high"
    _refused(copy, _write(tmp_path / "typed.csv", typed), "In column 'mean texture'", "'high'")
    _refused(
        copy, _write(tmp_path / "typed.parquet", typed), "column 'mean texture' is not numeric"
    )
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1 this is not parquet")
    _refused(copy, garbage, "cannot read the batch")
    _refused(copy, tmp_path / "absent.csv", "batch file not found")
    copy.main("params", "compose", "predict.extra_columns=error")
    _refused(
        copy,
        _write(tmp_path / "extra.parquet", frame.assign(note="x")),
        "columns the model was not trained on ['note']",
    )


def test_failure_in_a_late_chunk_rolls_back_the_whole_batch(csv_copy, tmp_path):
    """Unseen categories are refused by policy; the bad row is in the last chunk."""
    use_csv_data = use_csv(data_path(csv_copy))
    csv_copy.main(*use_csv_data, "predict.chunk_rows=100", "predict.unseen_categories=error")
    frame = customer_frame(500, seed=9).drop(columns="churn")
    frame.loc[480, "plan"] = "enterprise"
    path = _write(tmp_path / "batch.parquet", frame)
    _refused(csv_copy, path, "categories never seen in training", "'plan': ['enterprise']")
    assert table_version(csv_copy) is None
    csv_copy.main(*use_csv_data, "predict.chunk_rows=100")
    csv_copy.main("predict", str(path))  # allowed by default: the model groups it as rare
    rows = DeltaTable(str(csv_copy.path(TABLE))).to_pandas()
    assert len(rows) == 500 and set(rows["prediction"]) <= {"no", "yes"}
    assert json.loads(csv_copy.path("models/schema.json").read_text())["task"] == "classification"


def _write(path, frame):
    frame.to_csv(path, index=False) if path.suffix == ".csv" else frame.to_parquet(path)
    return path


def test_an_unknown_version_or_alias_is_one_line(copy, tmp_path):
    """The registry is asked by a second process (operate/batch/model_fetch.py): its error is
    the command's own, said once, with the CLI's exit code."""
    path = _write(tmp_path / "ok.parquet", batch(copy))
    for args, reason in [
        (["--alias", "nope"], "has no version with alias 'nope'"),
        (["--version", "99"], "has no version 99"),
    ]:
        done = copy.mlops("predict", str(path), *args, check=False)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.count("error:") == 1 and reason in done.stderr, done.stderr
    assert table_version(copy) is None


def test_a_stopped_predict_leaves_no_folder_or_process(copy, tmp_path):
    """SIGTERM while the model is fetched: the second process is stopped and the model's
    temporary folder removed, as after Ctrl-C."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    path = _write(tmp_path / "ok.parquet", batch(copy))
    temp = tmp_path / "tmp"
    temp.mkdir()
    cmd = [sys.executable, "-m", "mlops_template", "predict", str(path)]
    # Its own process, as in a shell with no warm stage server up (which fetches in itself)
    env = {**copy.env, "TMPDIR": str(temp), "MLOPS_STAGE_SERVER": "0"}
    predict = subprocess.Popen(cmd, cwd=copy.root, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (list(temp.glob("mlops-predict-*")) and psutil.Process(predict.pid).children()):
        assert predict.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    fetch = psutil.Process(predict.pid).children()  # the second process, fetching
    predict.send_signal(signal.SIGTERM)
    _, err = predict.communicate(timeout=60)
    assert predict.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
    _, alive = psutil.wait_procs(fetch, timeout=30)
    assert not alive and not list(temp.glob("mlops-predict-*"))
    assert table_version(copy) is None
    assert os.listdir(temp) == []
