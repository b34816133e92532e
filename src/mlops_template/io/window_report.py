"""The inference log's report for people, window by window: one self-contained HTML file
(the chart inlined as PNG data, nothing fetched), so it opens offline and in MLflow."""

from __future__ import annotations

import base64
import io

import numpy as np

from mlops_template.core.monitor_report import LogReport
from mlops_template.core.shares import percent
from mlops_template.io.drift_report import CSS

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Inference log by {{ report.window }}: {{ report.table }}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
.drift { color: #b00020; font-weight: bold; } .ok { color: #1b5e20; }
.few { color: #8a6d00; } img { max-width: 100%; }
</style></head><body>
<h1>Inference log by windows of {{ report.window }}</h1>
<p>Table <code>{{ report.table }}</code> ({{ report.rows }} rows in these windows,
{{ report.labelled_rows }} with labels) against the training data of
<b>{{ report.model.name }} v{{ report.model.version }}</b>
({{ report.reference.rows }} rows, md5 <code>{{ report.reference.md5 }}</code>).</p>
<img alt="the metric and drift over the windows" src="{{ chart }}">
<table><tr><th>window (UTC)</th><th>rows</th><th>drifted columns</th><th>drift</th>
<th>labelled</th><th>metric [interval]</th><th>performance</th></tr>
{% for w in report.windows %}
<tr><td>{{ w.start[:16] }} to {{ w.end[:16] }}</td><td>{{ w.rows }}</td>
{% if w.dataset %}
<td>{{ w.dataset.drifted | join(', ') or 'none' }}
({{ w.dataset.drifted | length }} of {{ w.dataset.decided }};
{{ percent(w.dataset.share, 0) }})</td>
<td class="{{ css[w.dataset.decision] }}">{{ w.dataset.decision }}</td>
{% set perf = w.performance %}
{% if perf and perf.batch is not none %}
<td>{{ perf.labelled_rows }}{{ perf.dropped_class_note() }}</td>
<td>{{ perf.metric }} {{ '%.4f' % perf.batch }} [{{ '%.4f' % perf.batch_interval[0] }},
{{ '%.4f' % perf.batch_interval[1] }}] against {{ '%.4f' % perf.baseline }}</td>
<td class="{{ css[perf.decision] }}">{{ perf.decision }}</td>
{% elif perf %}
<td>{{ perf.labelled_rows }}{{ perf.dropped_class_note() }}</td><td></td>
<td class="few">{{ perf.decision }}</td>
{% else %}<td>0</td><td></td><td>no labels yet</td>{% endif %}
{% else %}<td colspan="5">no rows</td>{% endif %}
</tr>
{% endfor %}
</table>
</body></html>
"""


def render(report: LogReport) -> str:
    from jinja2 import Environment

    template = Environment(autoescape=True).from_string(_TEMPLATE)
    return template.render(report=report, chart=_chart(report), css=CSS, percent=percent)


def _chart(report: LogReport) -> str:
    """The gate's metric (with its interval) and the share of drifted columns per window."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [w.start[:10] if w.start[11:16] == "00:00" else w.start[:16] for w in report.windows]
    x = np.arange(len(report.windows))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 4.5), dpi=80, sharex=True)
    scored = [(i, w.performance) for i, w in enumerate(report.windows) if _scored(w)]
    if scored:
        at = np.array([i for i, _ in scored])
        value = np.array([p.batch for _, p in scored])
        low = np.array([p.batch_interval[0] for _, p in scored])
        high = np.array([p.batch_interval[1] for _, p in scored])
        top.errorbar(at, value, yerr=[value - low, high - value], fmt="o-", capsize=3)
        top.axhline(scored[0][1].baseline, color="grey", linestyle="--", label="evaluation")
        top.set_ylabel(scored[0][1].metric, fontsize=8)
        top.legend(fontsize=8)
    else:
        top.text(0.5, 0.5, "no labelled windows yet", ha="center", transform=top.transAxes)
    shares = [w.dataset.share if w.dataset else np.nan for w in report.windows]
    bottom.bar(x, shares, color="#888")
    bottom.axhline(report.settings["drift_share"], color="#b00020", linestyle="--")
    bottom.set_ylabel("drifted share", fontsize=8)
    bottom.set_ylim(0, 1)
    bottom.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.95, bottom=0.2)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _scored(window) -> bool:
    return window.performance is not None and window.performance.batch is not None
