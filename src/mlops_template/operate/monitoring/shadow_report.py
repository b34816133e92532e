"""shadow-report: the shadow model (serve.shadow) against the model that answered, on the
logged requests whose labels have arrived, with the gate's paired bootstrap.

Every pair of versions that ran side by side gets its own comparison: the same rows,
the gate's metric for each, and the shadow's improvement with its interval (`better` or
`worse` only when the whole interval is on that side of zero). JSON under
`reports/shadow`, logged to an MLflow run. promote reads the same evidence when
gate.shadow.use is on.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mlops_template.config import Config
from mlops_template.io import shadow_rows
from mlops_template.io.atomic import write_json
from mlops_template.io.report_runs import log_report_run

REPORT_DIR, REPORT = Path("reports/shadow"), "shadow.json"


def shadow_report(cfg: Config) -> int:
    found = shadow_rows.read(cfg.predict.table, cfg.monitor.labels_table)
    comparisons = found.compared(cfg.gate, cfg.monitor.min_rows)
    report = {
        "table": cfg.predict.table,
        "metric": found.metric(cfg.gate),
        "paired_rows": found.pairs,
        "labelled_rows": len(found.labelled),
        "comparisons": [c.as_json() for c in comparisons],
    }
    path = write_json(REPORT_DIR / REPORT, report)
    for line in _lines(report):
        print(line, file=sys.stderr)
    log_report_run(
        cfg.tracking.operations_experiment,
        "shadow report",
        tags={"pipeline.stage": "shadow"},
        metrics={"shadow.labelled_rows": len(found.labelled)},
        files=[path],
        folder="shadow",
    )
    return 0


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
