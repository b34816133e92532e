"""labels: join labels that arrived later to the logged predictions (core/labels.py).

A CSV or Parquet file with an ID column and a label column (and, optionally, the time
each label was true) is matched to the inference log (`predict.table`, REST and batch
rows) by that ID column, and its new labels are stored in `monitor.labels_table`, where
`monitor` finds them. The same file twice adds nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from mlops_template.config import Config
from mlops_template.core.class_labels import whole_floats
from mlops_template.core.labels import SHOWN, keep_agreeing, sort_labels
from mlops_template.core.logged_inputs import PREFIX
from mlops_template.core.row_ids import row_ids
from mlops_template.core.shadow import is_shadow
from mlops_template.errors import PipelineError
from mlops_template.io import labels_table, logged_predictions, table_lock
from mlops_template.io.batch_files import batch_format

TIME_COLUMN = "labelled_at"


def import_labels(
    cfg: Config, path: Path, key: str | None = None, label_column: str | None = None
) -> int:
    table, store = cfg.predict.table, cfg.monitor.labels_table
    incoming = _read(path)
    # Per column: the setting naming it, its value, the name used without one, the option.
    defaults = {
        "ID": ("data.id_column", cfg.data.id_column, "request_id", "--key"),
        "label": ("data.target", cfg.data.target, "label", "--label-column"),
    }
    given = {"ID": key, "label": label_column}
    columns = ", ".join(map(str, incoming))
    for what, (setting, value, fallback, option) in defaults.items():
        name = given[what] or (value if value in incoming else fallback)
        if name in incoming:
            given[what] = name
            continue
        if given[what]:
            raise PipelineError(f"{path}: no {what} column {name!r} (columns: {columns})")
        # A default: say every name looked for, and how to name another.
        tried = (
            f", neither {value!r} ({setting}) nor {fallback!r}"
            if value and value != fallback
            else f" {fallback!r}"
        )
        raise PipelineError(
            f"{path}: no {what} column{tried}; {option} names another (columns: {columns})"
        )
    key, label_column = given["ID"], given["label"]
    ids = [cfg.data.id_column, "request_id", *cfg.predict.passthrough_columns]
    logged = _logged(table, key, others=[n for n in ids if n])
    classes = sorted(c.removeprefix("proba_") for c in logged.columns if c.startswith("proba_"))
    regression = not classes
    labels = pd.DataFrame(
        {
            "id": _ids(path, incoming[key]),
            "label": _typed(path, incoming[label_column], classes),
            "labelled_at": _times(path, incoming),
        }
    )
    if key == "request_id":
        _refuse_requests_of_several_rows(path, labels["id"], logged)
    with table_lock.locked(store):
        stored = labels_table.read(store)
        rows = logged[[key, "scored_at"]].set_axis(["id", "scored_at"], axis=1)
        found = sort_labels(labels, stored, rows, key)
        keep_agreeing(found, stored, logged, key)
        if len(found.new):
            labels_table.append(store, found.new, str(path), regression)
    print(found.summary(str(path)), file=sys.stderr)
    if len(found.new):
        print(f"stored in {store}", file=sys.stderr)
    return 0


def _read(path: Path) -> pd.DataFrame:
    if path.is_dir():
        raise PipelineError(f"{path} is a directory: name the labels file (.csv or .parquet)")
    if not path.is_file():
        raise PipelineError(f"{path}: labels file not found")
    reader = pd.read_parquet if batch_format(path) == "parquet" else pd.read_csv
    try:
        frame = reader(path)
    except Exception as err:
        raise PipelineError(f"{path}: cannot read the labels: {err}".splitlines()[0]) from None
    if frame.empty:
        raise PipelineError(f"{path}: the labels file has no rows")
    return frame


def _logged(table: str, key: str, others: list[str]) -> pd.DataFrame:
    """The log's rows: their IDs (by `key` and by the `others` the log has, each under its
    own name: one may be `id`), when they were scored, and the columns that say the
    model's classes."""
    log = logged_predictions.open_logged(table, "; labels are matched to logged predictions")
    names = logged_predictions.column_names(log)
    if key not in names:
        raise PipelineError(
            f"{table}: the logged predictions have no column {key!r} to match labels by "
            "(request_id, data.id_column, or a predict.passthrough_columns column); "
            "name another with --key"
        )
    answers = ["prediction", *[n for n in names if n.startswith("proba_")]]
    also = [n for n in dict.fromkeys(others) if n != key and n in names]
    # What tells one row from another under a request id: its place, answer and inputs.
    rows = ["shadow", *[n for n in names if n.startswith(PREFIX)]] if key == "request_id" else []
    columns = [key, *also, "row_number", "scored_at", *answers, *rows]
    logged = logged_predictions.logged_frame(log, table, columns)
    return logged.dropna(subset=[key])


def _refuse_requests_of_several_rows(path: Path, ids: pd.Series, logged: pd.DataFrame) -> None:
    """A request id names a request, not a row: a label by it would label every row of a
    request of several (each with its own answer) alike, and so of requests that reused
    the id (a client's x-request-id) for other rows. A retried request (the same row
    again) is one row; so is a shadow model's answer beside the served one."""
    served = logged[~is_shadow(logged)]
    facts = [
        c for c in served if c in ("row_number", "prediction") or c.startswith(("proba_", PREFIX))
    ]
    rows = pd.Series(row_ids(served, facts), index=served.index).groupby(served["request_id"])
    rows = rows.nunique()
    if several := sorted(set(ids) & set(rows.index[rows > 1])):
        more = f" (and {len(several) - 1} more)" if len(several) > 1 else ""
        raise PipelineError(
            f"{path}: request_id {several[0]!r}{more} answered several rows, in one request or "
            "in requests that reused it, and a label by request_id would label each of them: "
            "label those rows by their "
            "ID column (data.id_column, sent with each row; --key names another); nothing "
            "stored"
        )


def _ids(path: Path, values: pd.Series) -> pd.Series:
    if values.isna().any():
        raise PipelineError(
            f"{path}: column '{values.name}' (the IDs) is empty in {int(values.isna().sum())} "
            f"rows ({_where(values.isna())}); nothing stored"
        )
    # As the log holds them: text, an integer ID without a decimal point.
    if whole_floats(values):
        values = values.astype("int64")
    return values.astype(str)


def _typed(path: Path, values: pd.Series, classes: list[str]) -> pd.Series:
    """Labels as the log's predictions are written: a class's name, or a number."""
    if values.isna().any():
        raise PipelineError(
            f"{path}: column '{values.name}' (the labels) is empty in "
            f"{int(values.isna().sum())} rows ({_where(values.isna())}); nothing stored"
        )
    if not classes:
        try:
            return pd.to_numeric(values).astype("float64")
        except (TypeError, ValueError):
            numbers = pd.to_numeric(values, errors="coerce")
            raise PipelineError(
                f"{path}: column '{values.name}' (the labels) holds values that are not numbers, "
                f"as the logged predictions are ({_where(numbers.isna())})"
            ) from None
    text = values.map(_class_name)
    if unknown := sorted(set(text) - set(classes)):
        raise PipelineError(
            f"{path}: column '{values.name}' holds values that are not the model's classes "
            f"({', '.join(classes)}): {', '.join(map(repr, unknown[:5]))} "
            f"({_where(~text.isin(classes))}); nothing stored"
        )
    return text


def _class_name(value: object) -> str:
    """A class as the log writes it: 1.0 read from a file is the class 1."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _times(path: Path, incoming: pd.DataFrame) -> pd.Series:
    """When each label was true, if the file says (`labelled_at`, ISO 8601)."""
    if TIME_COLUMN not in incoming:
        return pd.Series(pd.NaT, index=incoming.index, dtype="datetime64[us, UTC]")
    values = incoming[TIME_COLUMN]
    times = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    bad = values.notna() & times.isna()
    if bad.any():
        raise PipelineError(
            f"{path}: column '{TIME_COLUMN}' holds values that are not ISO 8601 times, e.g. "
            f"{values[bad].astype(str).tolist()[:5]} ({_where(bad)}); nothing stored"
        )
    return times


def _where(rows: pd.Series) -> str:
    """Which of the file's data rows (from 1, after a CSV's header; a CSV's blank lines,
    which are skipped, are not counted) these are: the first few."""
    found = [int(i) + 1 for i in rows.to_numpy().nonzero()[0][:SHOWN]]
    more = " ..." if int(rows.sum()) > SHOWN else ""
    return ("data rows " if len(found) > 1 else "data row ") + ", ".join(map(str, found)) + more
