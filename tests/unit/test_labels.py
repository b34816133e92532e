"""Labels that arrive later: matched to the logged predictions by an ID column, stored once
(the same file twice adds nothing), conflicts and unknown IDs reported; and joined to the
logged rows by the time each label was true. On real Delta tables in a temporary folder."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from mlops_template.config import Config
from mlops_template.core.labels import join_labels, keep_agreeing, sort_labels
from mlops_template.errors import PipelineError
from mlops_template.io import labels_table, predictions_table
from mlops_template.operate.monitoring.labels import import_labels

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def day(n: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=n)


def labels(*rows) -> pd.DataFrame:
    """(id, label[, labelled_at]) rows."""
    return pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "label": [r[1] for r in rows],
            "labelled_at": pd.to_datetime(
                pd.Series([r[2] if len(r) > 2 else None for r in rows], dtype=object), utc=True
            ).astype("datetime64[us, UTC]"),
        }
    )


NONE_STORED = pd.DataFrame(columns=["key", "id", "label", "labelled_at"])
LOGGED = pd.DataFrame({"id": ["a", "b", "c"], "scored_at": [day(0), day(1), day(2)]})


def test_new_labels_for_logged_ids_are_kept_and_the_rest_reported():
    found = sort_labels(
        labels(("a", "yes"), ("b", "no"), ("zz", "yes"), ("c", "no", day(1))),
        NONE_STORED,
        LOGGED,
        "customer_id",
    )
    assert found.new["id"].tolist() == ["a", "b"]
    assert set(found.new["key"]) == {"customer_id"}
    # zz was never scored; c's label is from before its prediction was made.
    assert found.unknown == ["zz", "c"]
    assert found.conflicts == [] and found.already_known == 0


def test_the_same_labels_twice_change_nothing_and_a_different_one_is_a_conflict():
    first = sort_labels(labels(("a", "yes"), ("b", "no", day(3))), NONE_STORED, LOGGED, "k")
    stored = first.new
    again = sort_labels(labels(("a", "yes"), ("b", "no", day(3))), stored, LOGGED, "k")
    assert again.new.empty and again.already_known == 2 and again.conflicts == []
    changed = sort_labels(labels(("a", "no"), ("b", "no", day(4))), stored, LOGGED, "k")
    assert changed.conflicts == ["a: yes -> no"]  # the stored label stays
    assert changed.new["id"].tolist() == ["b"]  # b at another time: a label of its own
    other_key = sort_labels(labels(("a", "no")), stored, LOGGED, "request_id")
    assert other_key.conflicts == [] and other_key.new["id"].tolist() == ["a"]


def test_a_file_that_disagrees_with_itself_stores_neither():
    found = sort_labels(
        labels(("a", "yes"), ("a", "no"), ("b", "no"), ("b", "no")), NONE_STORED, LOGGED, "k"
    )
    assert found.conflicts == ["a: the file gives it more than one label"]
    assert found.new["id"].tolist() == ["b"]
    # b twice: said, not left out of the counts without a word.
    assert found.repeated == 1
    assert found.summary("f.csv").splitlines()[0] == (
        "f.csv: 4 labels; 1 matched logged predictions and were added, 0 were already "
        "there, 0 unknown, 1 conflicted, 1 repeated in the file"
    )


def test_a_logged_row_takes_the_first_label_after_it_else_the_untimed_one():
    logged = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "c", None],
            "scored_at": [day(0), day(2), day(5), day(1), day(1), day(1)],
        }
    )
    stored = labels(("a", "no", day(1)), ("a", "yes", day(3)), ("b", "yes")).assign(
        key="customer_id"
    )
    joined = join_labels(logged, stored, "customer_id")
    # a at day 0 -> its day-1 label; at day 2 -> day 3; at day 5 nothing after it.
    assert joined.tolist() == ["no", "yes", None, "yes", None, None]


def test_only_the_label_that_would_relabel_a_row_another_id_labelled_is_a_conflict():
    """c1 was scored on days 1 and 10; its day-1 row is labelled "no" by request id. Of
    two new labels for c1, the day-5 one would relabel that row; the day-15 one labels only
    the day-10 row, which has none: it is kept (both were dropped, alike worded)."""
    logged = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c2"],
            "request_id": ["r-1", "r-2", "r-3"],
            "scored_at": [day(1), day(10), day(1)],
        }
    )
    stored = labels(("r-1", "no")).assign(key="request_id")
    found = sort_labels(
        labels(("c1", "yes", day(5)), ("c1", "yes", day(15)), ("c2", "no")),
        stored,
        logged[["customer_id", "scored_at"]].set_axis(["id", "scored_at"], axis=1),
        "customer_id",
    )
    assert len(found.new) == 3
    keep_agreeing(found, stored, logged, "customer_id")
    assert found.conflicts == ["c1 at 2026-01-06T00:00:00: no (by another ID) -> yes"]
    assert found.new["id"].tolist() == ["c1", "c2"]
    assert found.new["labelled_at"].iloc[0] == day(15) and pd.isna(found.new["labelled_at"][1])


# The command, on real tables.


def write_log(
    table,
    ids: list[str],
    scored_at: list[pd.Timestamp],
    row_numbers: list[int] | None = None,
    *,
    x: list[float] | None = None,
    prediction: list[str] | None = None,
    shadow: list[bool] | None = None,
    id_name: str = "customer_id",
) -> None:
    """Logged rows by customer_id (or `id_name`; request ids r-<id>); with `x`, an input
    column too."""
    inputs = [pa.field("input_x", pa.float64())] if x is not None else []
    schema = predictions_table.table_schema(["no", "yes"], [pa.field(id_name, pa.string())], inputs)
    n = len(ids)
    answered = prediction or ["no"] * n
    values = {
        "row_number": pa.array(row_numbers or range(n), pa.int64()),
        "request_id": pa.array([f"r-{i}" for i in ids]),
        id_name: pa.array(ids),
        "prediction": pa.array(answered),
        "proba_no": pa.array([0.7 if p == "no" else 0.2 for p in answered]),
        "proba_yes": pa.array([0.3 if p == "no" else 0.8 for p in answered]),
        "model_name": pa.array(["m"] * n),
        "model_version": pa.array(["1"] * n),
        "model_alias": pa.array(["champion"] * n),
        "shadow": pa.array(shadow or [False] * n),
        "batch_hash": pa.nulls(n, pa.string()),
        "scored_at": pa.array(scored_at, pa.timestamp("us", tz="UTC")),
        **({"input_x": pa.array(x, pa.float64())} if x is not None else {}),
    }
    return _append(table, schema, values)


def _append(table, schema: pa.Schema, values: dict[str, pa.Array]) -> None:
    batch = pa.RecordBatch.from_arrays([values[f.name] for f in schema], schema=schema)
    predictions_table.append(str(table), schema, iter([batch]))


@pytest.fixture
def cfg(params, tmp_path) -> Config:
    params["predict"]["table"] = str(tmp_path / "predictions")
    params["monitor"]["labels_table"] = str(tmp_path / "labels")
    params["data"]["id_column"] = "customer_id"
    params["data"]["target"] = "churned"
    return Config.model_validate(params)


def test_import_stores_once_and_reports(cfg, tmp_path, capfd):
    write_log(tmp_path / "predictions", ["1", "2", "3"], [day(0), day(1), day(2)])
    file = tmp_path / "labels.csv"
    pd.DataFrame({"customer_id": [1, 2, 9], "churned": ["yes", "no", "no"]}).to_csv(
        file, index=False
    )
    assert import_labels(cfg, file) == 0
    said = capfd.readouterr().err
    assert "3 labels; 2 matched logged predictions and were added" in said and "1 unknown" in said
    stored = labels_table.read(str(tmp_path / "labels"))
    assert sorted(stored["id"]) == ["1", "2"] and set(stored["key"]) == {"customer_id"}
    assert import_labels(cfg, file) == 0  # again: nothing added
    assert (
        "0 matched logged predictions and were added, 2 were already there"
        in capfd.readouterr().err
    )
    assert len(labels_table.read(str(tmp_path / "labels"))) == 2
    # By request id, with the time each label was true.
    by_request = tmp_path / "by_request.csv"
    pd.DataFrame(
        {"request_id": ["r-3"], "label": ["yes"], "labelled_at": ["2026-01-10T00:00:00Z"]}
    ).to_csv(by_request, index=False)
    import_labels(cfg, by_request)
    stored = labels_table.read(str(tmp_path / "labels"))
    assert stored.loc[stored["key"] == "request_id", "labelled_at"].tolist() == [day(9)]


def test_a_request_of_several_rows_is_not_labelled_by_its_id(cfg, tmp_path, capfd):
    """Its rows share the request id: one label by it labelled each row, whatever each
    was (a two-row request, answered yes and no, both became yes)."""
    # r-1 a request of two rows, r-2 of one.
    write_log(tmp_path / "predictions", ["1", "1", "2"], [day(0)] * 3, row_numbers=[0, 1, 0])
    file = tmp_path / "by_request.csv"
    pd.DataFrame({"request_id": ["r-2", "r-1"], "label": ["yes", "no"]}).to_csv(file, index=False)
    with pytest.raises(PipelineError, match=r"by_request.csv: request_id 'r-1' answered several"):
        import_labels(cfg, file)
    assert not (tmp_path / "labels").exists()
    file.write_text("request_id,label\nr-2,yes\n")  # a request of one row
    assert import_labels(cfg, file) == 0
    assert labels_table.read(str(tmp_path / "labels"))["id"].tolist() == ["r-2"]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame({"who": [1], "churned": ["yes"]}),
            "no ID column, neither 'customer_id' (data.id_column) nor 'request_id'; --key names",
        ),
        (
            pd.DataFrame({"customer_id": [1], "target": ["yes"]}),
            "no label column, neither 'churned' (data.target) nor 'label'; --label-column names",
        ),
        (
            pd.DataFrame({"customer_id": [1], "churned": ["maybe"]}),
            "not the model's classes (no, yes): 'maybe' (data row 1)",
        ),
        (
            pd.DataFrame({"customer_id": [1, None], "churned": ["yes", "no"]}),
            "(the IDs) is empty in 1 rows (data row 2)",
        ),
        (
            pd.DataFrame({"customer_id": [1], "churned": ["yes"], "labelled_at": ["next week"]}),
            "not ISO 8601 times",
        ),
        (
            pd.DataFrame({"customer_id": [1, 2, 3], "churned": ["yes", "no ", "yes "]}),
            "not the model's classes (no, yes): 'no ', 'yes ' (data rows 2, 3)",
        ),
    ],
    ids=[
        "no-id-column",
        "no-label-column",
        "unknown-class",
        "missing-id",
        "bad-time",
        "a-space-after",
    ],
)
def test_a_bad_labels_file_is_refused_and_nothing_stored(cfg, tmp_path, frame, message):
    write_log(tmp_path / "predictions", ["1"], [day(0)])
    file = tmp_path / "labels.csv"
    frame.to_csv(file, index=False)
    with pytest.raises(PipelineError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_labels(cfg, file)
    assert not (tmp_path / "labels").exists()


@pytest.mark.parametrize(
    ("second", "refused"),
    [
        ({"x": [1.0]}, False),  # a retry: the same row, answered alike
        ({"x": [1.0], "prediction": ["yes"], "shadow": [True]}, False),  # its shadow's answer
        ({"x": [5.0]}, True),  # another row under a reused id, answered alike
        ({"x": [5.0], "prediction": ["yes"]}, True),  # another row, answered otherwise
    ],
    ids=["retry", "shadow", "same-answer", "other-answer"],
)
def test_a_request_id_reused_for_other_rows_is_not_labelled_by(cfg, tmp_path, second, refused):
    """A client sent x-request-id: dup with two different rows, each its own request: a
    label by it labelled both."""
    log = tmp_path / "predictions"
    write_log(log, ["1"], [day(0)], x=[1.0])
    write_log(log, ["1"], [day(1)], **second)
    (file := tmp_path / "by_request.csv").write_text("request_id,label\nr-1,yes\n")
    if refused:
        with pytest.raises(PipelineError, match=r"request_id 'r-1' answered several rows, in"):
            import_labels(cfg, file)
        assert not (tmp_path / "labels").exists()
    else:
        assert import_labels(cfg, file) == 0
        assert labels_table.read(str(tmp_path / "labels"))["id"].tolist() == ["r-1"]


@pytest.mark.parametrize("id_name", ["customer_id", "id"])
def test_a_label_by_another_id_that_disagrees_is_a_conflict(params, tmp_path, capfd, id_name):
    """Rows labelled by customer_id, then by their request_id with other labels: the
    second file was added ("0 conflicted") and moved the window's metric. An ID column
    named `id` crashed the second import ("Grouper for 'id' not 1-dimensional")."""
    params["predict"]["table"] = str(tmp_path / "predictions")
    params["monitor"]["labels_table"] = str(tmp_path / "labels")
    params["data"].update(id_column=id_name, target="churned")
    cfg = Config.model_validate(params)
    write_log(tmp_path / "predictions", ["1", "2"], [day(0), day(1)], id_name=id_name)
    (first := tmp_path / "by_customer.csv").write_text(f"{id_name},churned\n1,yes\n2,no\n")
    assert import_labels(cfg, first) == 0
    capfd.readouterr()
    (second := tmp_path / "by_request.csv").write_text("request_id,label\nr-1,no\nr-2,no\n")
    assert import_labels(cfg, second) == 0
    said = capfd.readouterr().err
    assert "1 matched logged predictions and were added" in said and "1 conflicted" in said
    assert "r-1: yes (by another ID) -> no" in said
    stored = labels_table.read(str(tmp_path / "labels"))
    assert sorted(zip(stored["key"], stored["id"], stored["label"], strict=True)) == [
        (id_name, "1", "yes"),
        (id_name, "2", "no"),
        ("request_id", "r-2", "no"),  # agrees: kept
    ]


def test_a_folder_given_as_the_labels_file_is_named(cfg, tmp_path):
    (folder := tmp_path / "arrived").mkdir()
    with pytest.raises(PipelineError, match=r"arrived is a directory: name the labels file"):
        import_labels(cfg, folder)


def test_labels_before_any_logged_prediction_are_refused(cfg, tmp_path):
    file = tmp_path / "labels.csv"
    pd.DataFrame({"customer_id": [1], "churned": ["yes"]}).to_csv(file, index=False)
    with pytest.raises(PipelineError, match="no predictions logged yet"):
        import_labels(cfg, file)


def test_ct_takes_the_logs_labelled_rows_with_their_id_as_the_split_key(params, tmp_path):
    """The data's ID, passed through to the log, is the split key: `ct --log` took the
    rows of its windows with a traceback ("cannot insert customer_id, already exists")."""
    from mlops_template.core.logged_inputs import column_name, input_fields
    from mlops_template.core.monitor_report import Window
    from mlops_template.core.schema import infer_schema
    from mlops_template.operate.monitoring.log_monitor import labelled_log_rows

    params["predict"]["table"] = str(tmp_path / "predictions")
    params["monitor"]["labels_table"] = str(tmp_path / "labels")
    params["data"].update(id_column="customer_id", target="churned")
    params["split"]["key"] = "customer_id"
    cfg = Config.model_validate(params)
    features = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    schema = infer_schema(
        features, pd.Series(["no", "yes", "no"], name="churned"), "classification"
    )
    passthrough = [pa.field("customer_id", pa.string())]
    table_schema = predictions_table.table_schema(["no", "yes"], passthrough, input_fields(schema))
    n, ids = 3, ["1", "2", "3"]
    write_log_values = {
        "row_number": pa.array([0] * n, pa.int64()),
        "request_id": pa.array([f"r-{i}" for i in ids]),
        "customer_id": pa.array(ids),
        "prediction": pa.array(["no"] * n),
        "proba_no": pa.array([0.7] * n),
        "proba_yes": pa.array([0.3] * n),
        "model_name": pa.array([cfg.registry.model_name] * n),
        "model_version": pa.array(["1"] * n),
        "model_alias": pa.array(["champion"] * n),
        "shadow": pa.array([False] * n),
        "batch_hash": pa.nulls(n, pa.string()),
        "scored_at": pa.array([day(0)] * n, pa.timestamp("us", tz="UTC")),
        column_name("x"): pa.array(features["x"]),
        column_name("c"): pa.array(features["c"]),
    }
    _append(tmp_path / "predictions", table_schema, write_log_values)
    file = tmp_path / "labels.csv"
    pd.DataFrame({"customer_id": [1, 3], "churned": ["yes", "no"]}).to_csv(file, index=False)
    assert import_labels(cfg, file) == 0
    window = Window(start=day(0).isoformat(), end=day(1).isoformat(), rows=3)
    rows = labelled_log_rows(cfg, schema, [window])
    assert rows.columns.tolist() == ["customer_id", "x", "c", "churned"]
    assert rows.values.tolist() == [["1", 1.0, "a", "yes"], ["3", 3.0, "a", "no"]]
