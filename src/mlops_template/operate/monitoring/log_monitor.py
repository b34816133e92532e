"""monitor --log: the inference log (REST and batch rows, predict.table), window by window,
against a model version's training data: drift of each window and, where labels have
arrived (`labels`, monitor.labels_table), the gate's metric with its bootstrap interval.
JSON and self-contained HTML under monitor.report_dir, logged to an MLflow run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from mlops_template.config import Config
from mlops_template.core.labels import arrived_labels
from mlops_template.core.logged_inputs import column_name, features_from_log
from mlops_template.core.monitor_report import LogReport, ModelVersion, Reference, Window
from mlops_template.core.raw_rows import BadCells
from mlops_template.core.row_ids import KnownRows
from mlops_template.core.schema import TrainingSchema
from mlops_template.core.shadow import is_shadow
from mlops_template.core.windows import in_window, window_bounds
from mlops_template.errors import PipelineError
from mlops_template.io import labels_table, logged_predictions, registry
from mlops_template.io.atomic import write_json, write_text
from mlops_template.io.model_versions import RegisteredVersion
from mlops_template.io.report_runs import log_report_run
from mlops_template.operate.monitoring.monitor import assess, load_model_data, sample

JSON_REPORT, HTML_REPORT = "windows.json", "windows.html"
CLOCK_SKEW = "5 minutes"  # how far ahead of this one another machine's clock may be


def monitor_log(cfg: Config, version: str | None = None, alias: str | None = None) -> int:
    champion = load_model_data(cfg, registry.connect(), version, alias)
    report = log_report(cfg, champion)
    print(report.summary(), file=sys.stderr)
    return 0


def log_report(cfg: Config, champion: RegisteredVersion) -> LogReport:
    """The last `monitor.windows` windows of `monitor.window` of the log; written and logged."""
    settings, schema = cfg.monitor, champion.schema
    length = pd.Timedelta(settings.window)
    logged = read_log(cfg.predict.table, schema, champion.ref.name)
    bounds = window_bounds(logged["scored_at"].max(), length, settings.windows)
    logged = logged[logged["scored_at"] >= bounds[0][0]].reset_index(drop=True)
    current = _labelled(cfg, logged, schema)
    trained = KnownRows(champion.data("train"))  # its rows' ids made once, for every window
    reference = sample(trained.frame, settings.max_rows, settings.seed)
    windows = []
    for start, end in bounds:
        rows = current[in_window(logged["scored_at"], start, end).to_numpy()]
        when = {"start": start.isoformat(), "end": end.isoformat(), "rows": len(rows)}
        if rows.empty:
            windows.append(Window(**when))
            continue
        try:
            window = sample(rows, settings.max_rows, settings.seed)
            found = assess(cfg, champion, window, reference, trained)
        except BadCells as err:
            raise PipelineError(f"{cfg.predict.table}: {err}; not monitored") from None
        windows.append(
            Window(
                **when,
                dataset=found.dataset,
                prediction=found.prediction,
                performance=found.performance,
                features=found.features,
            )
        )
    report = LogReport(
        table=cfg.predict.table,
        model=ModelVersion(name=champion.ref.name, version=champion.ref.version),
        reference=Reference(md5=champion.data_md5("train"), rows=len(reference)),
        window=settings.window,
        rows=len(logged),
        labelled_rows=int(current[schema.target.name].notna().sum()),
        windows=windows,
        settings=settings.model_dump(),
    )
    _write_and_log(cfg, report)
    return report


def labelled_log_rows(cfg: Config, schema: TrainingSchema, windows: list[Window]) -> pd.DataFrame:
    """The log's labelled rows in these windows as a batch file holds them (features,
    dates as ISO 8601 text, the label as the target, and the split key where the log has
    it), for `ct` to add to the training data. Rows without a split key are left out."""
    logged = read_log(cfg.predict.table, schema, cfg.registry.model_name)
    inside = pd.Series(False, index=logged.index)
    for window in windows:
        start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
        inside |= in_window(logged["scored_at"], start, end)
    logged = logged[inside.to_numpy()].reset_index(drop=True)
    rows = _labelled(cfg, logged, schema)
    for name in schema.dates:
        rows[name] = rows[name].map(lambda t: None if pd.isna(t) else t.isoformat())
    key = cfg.split.key
    if key is not None and key in rows:  # _labelled added it: first, as in a batch file
        rows.insert(0, key, rows.pop(key))
        if missing := int((rows[schema.target.name].notna() & rows[key].isna()).sum()):
            print(f"{missing} labelled rows without '{key}' (split.key) left out", file=sys.stderr)
        rows = rows[rows[key].notna()]
    return rows[rows[schema.target.name].notna()].reset_index(drop=True)


def _labelled(cfg: Config, logged: pd.DataFrame, schema: TrainingSchema) -> pd.DataFrame:
    """The logged rows' features, and their labels where they arrived."""
    rows = features_from_log(logged, schema)
    arrived = labels_table.read(cfg.monitor.labels_table)
    rows[schema.target.name] = labels_of(logged, arrived, schema)
    if (key := cfg.split.key) in logged and key not in rows:  # names rows: trained on?
        rows[key] = logged[key].to_numpy()
    return rows


def read_log(table: str, schema: TrainingSchema, model_name: str) -> pd.DataFrame:
    """The log's rows of this registered model (any version): when each was scored, its
    IDs and the model's inputs."""
    log = logged_predictions.open_logged(table)
    names = logged_predictions.column_names(log)
    inputs = [column_name(f) for f in schema.features]
    if missing := [c for c in inputs if c not in names]:
        raise PipelineError(
            f"{table}: the log has no inputs for {', '.join(missing[:5])} (rows logged by "
            "another model, or before the log kept inputs): monitor a batch file instead"
        )
    keys = [c for c in names if c not in inputs and not c.startswith("proba_")]
    logged = logged_predictions.logged_frame(log, table, [*keys, *inputs])
    # A shadow model's rows (serve.shadow) repeat the answered ones.
    logged = logged[~is_shadow(logged)].reset_index(drop=True)
    logged = _left_out(logged, _another_model(logged, model_name), table, "scored by another model")
    # The windows end at the latest row: one stamped in the future would leave every real
    # row out of them, unsaid (a row of 2099 hid 600).
    future = logged["scored_at"] > pd.Timestamp.now(tz="UTC") + pd.Timedelta(CLOCK_SKEW)
    logged = _left_out(logged, future, table, f"stamped more than {CLOCK_SKEW} ahead of now")
    # Logged before the log kept inputs, or by another model.
    logged = _left_out(
        logged, logged[inputs].isna().all(axis=1), table, "without the model's inputs"
    )
    if logged.empty:
        raise PipelineError(f"{table}: the log has no rows with this model's inputs")
    return logged


def _another_model(logged: pd.DataFrame, name: str) -> pd.Series:
    if "model_name" not in logged:
        return pd.Series(False, index=logged.index)
    return logged["model_name"].notna() & (logged["model_name"] != name)


def _left_out(logged: pd.DataFrame, rows: pd.Series, table: str, why: str) -> pd.DataFrame:
    if not rows.any():
        return logged
    print(f"{table}: {int(rows.sum())} rows {why} left out", file=sys.stderr)
    return logged[~rows.to_numpy()].reset_index(drop=True)


def labels_of(logged: pd.DataFrame, labels: pd.DataFrame, schema: TrainingSchema) -> pd.Series:
    """Each logged row's label, typed as in training (missing where none has arrived), by
    whichever ID column the labels were matched on."""
    found = arrived_labels(logged, labels)
    if schema.target.classes is None:
        return pd.to_numeric(found)
    classes = {str(c): c for c in schema.target.classes}
    return found.map(lambda label: None if label is None else classes.get(label))


def _write_and_log(cfg: Config, report: LogReport) -> None:
    from mlops_template.io.window_report import render

    folder = Path(cfg.monitor.report_dir)
    html = render(report)  # first: a failure writes neither
    json_path = write_json(folder / JSON_REPORT, report.as_json())
    html_path = write_text(folder / HTML_REPORT, html)
    log_report_run(
        cfg.tracking.operations_experiment,
        f"monitor {Path(report.table).name} by {report.window}",
        tags={
            "pipeline.stage": "monitor",
            "registry.model_version": report.model.version,
            "monitor.source": "inference log",
        },
        metrics=report.metrics(),
        files=[json_path, html_path],
        folder="monitor",
    )
