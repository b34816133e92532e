"""shadow-report: the shadow model (serve.shadow) against the model that answered, on the
logged requests whose labels have arrived, with the gate's paired bootstrap.

Every pair of versions that ran side by side gets its own comparison: the same rows,
the gate's metric for each, and the shadow's improvement with its interval (`better` or
`worse` only when the whole interval is on that side of zero). JSON under
`reports/shadow`, logged to an MLflow run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_template.config import Config
from mlops_template.core import bootstrap as bs
from mlops_template.core.labels import arrived_labels
from mlops_template.errors import PipelineError
from mlops_template.io import labels_table
from mlops_template.io.atomic import write_json
from mlops_template.io.report_runs import log_report_run

REPORT_DIR, REPORT = Path("reports/shadow"), "shadow.json"
PAIR = ["request_id", "row_number", "scored_at"]  # a client may reuse its request ids


def shadow_report(cfg: Config) -> int:
    rows, classes = _logged(cfg.predict.table)
    labels = labels_table.read(cfg.monitor.labels_table)
    served = rows[~rows["shadow"].fillna(False).astype(bool)]
    shadowed = rows[rows["shadow"].fillna(False).astype(bool)]
    if shadowed.empty:
        raise PipelineError(
            f"{cfg.predict.table}: no shadow rows logged (serve.shadow=challenger logs them)"
        )
    pairs = served.merge(shadowed, on=PAIR, suffixes=("", "_shadow"), validate="one_to_one")
    pairs["label"] = arrived_labels(pairs, labels)
    labelled = pairs[pairs["label"].notna()]
    task = "regression" if not classes else "classification"
    metric = getattr(cfg.gate, task).metric
    comparisons = []
    for (served_v, shadow_v), group in labelled.groupby(["model_version", "model_version_shadow"]):
        versions = (str(served_v), str(shadow_v))
        comparisons.append(_compare(group, metric, classes, cfg, versions))
    report = {
        "table": cfg.predict.table,
        "metric": metric,
        "paired_rows": len(pairs),
        "labelled_rows": len(labelled),
        "comparisons": comparisons,
    }
    path = write_json(REPORT_DIR / REPORT, report)
    for line in _lines(report):
        print(line, file=sys.stderr)
    log_report_run(
        cfg.tracking.operations_experiment,
        "shadow report",
        tags={"pipeline.stage": "shadow"},
        metrics={"shadow.labelled_rows": len(labelled)},
        files=[path],
        folder="shadow",
    )
    return 0


def _logged(table: str) -> tuple[pd.DataFrame, list[str]]:
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(table):
        raise PipelineError(f"{table}: no predictions logged yet (make serve writes them)")
    names = DeltaTable(table).schema().to_arrow().names
    if "shadow" not in names:
        raise PipelineError(f"{table}: no shadow rows logged (serve.shadow=challenger logs them)")
    proba = [n for n in names if n.startswith("proba_")]
    keep = [n for n in names if not n.startswith("input_")]
    rows = DeltaTable(table).to_pandas(columns=keep)
    return rows[rows["request_id"].notna()], [n.removeprefix("proba_") for n in proba]


def _compare(
    group: pd.DataFrame, metric: str, classes: list[str], cfg: Config, versions: tuple[str, str]
) -> dict[str, Any]:
    """The shadow's rows against the served ones, `versions` (served, shadow)."""
    served, shadow = versions
    found: dict[str, Any] = {"served_version": served, "shadow_version": shadow, "rows": len(group)}
    if len(group) < cfg.monitor.min_rows:
        return {**found, "verdict": "too few labelled rows"}
    y = group["label"].reset_index(drop=True)
    if not classes:
        y = y.astype("float64")

    def outputs(suffix: str) -> bs.Outputs:
        proba = None
        if classes:
            proba = group[[f"proba_{c}{suffix}" for c in classes]].to_numpy(dtype="float64")
        return bs.Outputs(np.asarray(group[f"prediction{suffix}"]), proba, classes or None)

    compared = bs.paired(metric, y, outputs("_shadow"), outputs(""), cfg.gate.bootstrap)
    return {**found, **compared.as_json()}


def _lines(report: dict[str, Any]) -> list[str]:
    lines = [
        f"{report['table']}: {report['paired_rows']} rows scored by both models, "
        f"{report['labelled_rows']} of them labelled"
    ]
    for c in report["comparisons"]:
        head = f"shadow v{c['shadow_version']} against served v{c['served_version']}"
        if "a" not in c:
            lines.append(f"  {head}: {c['verdict']} ({c['rows']})")
            continue
        low, high = c["interval"]
        lines.append(
            f"  {head} on {c['rows']} labelled rows: {report['metric']} {c['a']:.4f} against "
            f"{c['b']:.4f}, improvement {c['improvement']:+.4f} [{low:+.4f}, {high:+.4f}]: "
            f"{c['verdict']}"
        )
    return lines
