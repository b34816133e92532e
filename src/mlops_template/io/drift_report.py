"""The drift report for people: one self-contained HTML file (charts inlined as PNG data,
no scripts, styles or fonts from anywhere), so it opens offline and as an MLflow artifact."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd

from mlops_template.core.drift import finite_values
from mlops_template.core.monitor_report import MonitorReport, Performance
from mlops_template.core.raw_rows import as_days, looks_like_dates
from mlops_template.core.shares import percent

SHOWN_CATEGORIES = 15
_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Drift report: {{ report.batch.path }}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
.drift { color: #b00020; font-weight: bold; } .ok { color: #1b5e20; }
.few { color: #8a6d00; } section { margin-bottom: 2em; } img { max-width: 100%; }
</style></head><body>
<h1>Drift report</h1>
<p>Batch <code>{{ report.batch.path }}</code> ({{ report.batch.rows }} rows, md5
<code>{{ report.batch.md5 }}</code>) against the training data of
<b>{{ report.model.name }} v{{ report.model.version }}</b>
({{ report.reference.rows }} rows, md5 <code>{{ report.reference.md5 }}</code>).</p>
<h2>Summary</h2>
<table>
<tr><th>Dataset drift</th><td class="{{ css[report.dataset.decision] }}">
{{ report.dataset.decision }}</td></tr>
<tr><th>Drifted columns</th><td>{{ report.dataset.drifted | length }} of
{{ report.dataset.decided }} decided ({{ percent(report.dataset.share, 0) }};
threshold {{ '%.0f' % (100 * report.dataset.drift_share) }}%)</td></tr>
<tr><th>Prediction drift</th><td class="{{ css[report.prediction.decision] }}">
{{ report.prediction.decision }}</td></tr>
{% set perf = report.performance %}
{% if perf and perf.batch is not none %}
<tr><th>{{ perf.metric }} on the batch</th><td class="{{ css[perf.decision] }}">
{{ '%.4f' % perf.batch }} against {{ '%.4f' % perf.baseline }} on the evaluation data:
{{ perf.decision }} ({{ perf.why() }};
{{ perf.labelled_rows }} labelled rows{{ left_out(perf) }})</td></tr>
{% elif perf %}
<tr><th>Performance</th><td class="few">{{ perf.decision }}
({{ perf.labelled_rows }} labelled rows{{ left_out(perf) }})</td></tr>
{% else %}<tr><th>Performance</th><td>the batch has no labels</td></tr>{% endif %}
</table>
<h2>Columns</h2>
<table><tr><th>column</th><th>kind</th><th>test</th><th>statistic</th><th>p-value</th>
<th>threshold</th><th>missing (ref / batch)</th><th>decision</th></tr>
{% for name, r in report.features.items() %}
<tr><td><a href="#{{ anchors[name] }}">{{ name }}</a></td><td>{{ r.kind }}</td>
<td>{{ r.test or '' }}</td><td>{{ r.statistic if r.statistic is not none else '' }}</td>
<td>{{ '%.3g' % r.p_value if r.p_value is not none else '' }}</td>
<td>{{ r.threshold if r.threshold is not none else '' }}</td>
<td>{{ percent(r.reference_missing) }} / {{ percent(r.current_missing) }}</td>
<td class="{{ css[r.decision] }}">{{ r.decision }}{% if r.unseen %}<br><small>never
seen in training ({{ percent(r.unseen_share) }} of the batch): {{ r.unseen | join(', ') }}
</small>{% endif %}</td></tr>
{% endfor %}
</table>
<section><h2>Predictions</h2><img alt="predictions" src="{{ charts['prediction'] }}"></section>
{% for name in report.features %}
<section id="{{ anchors[name] }}"><h3>{{ name }}</h3>
<img alt="{{ name }}" src="{{ charts[name] }}"></section>
{% endfor %}
</body></html>
"""
CSS = {
    "drift": "drift",
    "no drift": "ok",
    "too few rows": "few",
    "like an ID: not compared": "few",
    "out of range": "drift",
    "in range": "ok",
}


def render(
    report: MonitorReport,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    predictions: tuple[pd.Series, pd.Series],
) -> str:
    """The HTML report: summary, a row per column, and each column's distributions."""
    from jinja2 import Environment

    charts = {
        name: _chart(name, result.kind, reference[name], current[name])
        for name, result in report.features.items()
    }
    charts["prediction"] = _chart("prediction", report.prediction.kind, *predictions)
    anchors = {name: f"col-{i}" for i, name in enumerate(report.features)}
    template = Environment(autoescape=True).from_string(_TEMPLATE)
    return template.render(
        report=report,
        charts=charts,
        anchors=anchors,
        css=CSS,
        left_out=_left_out,
        percent=percent,  # 1 row of 10,000 missing is 0.01%, not 0.0%
    )


def _left_out(perf: Performance) -> str:
    """Rows the score leaves out: without a label, or of a class training dropped."""
    said = perf.left_out()
    return f", {said}" if said else ""


def axis_values(
    name: str, reference: pd.Series, current: pd.Series
) -> tuple[np.ndarray, np.ndarray, bool]:
    """A numeric chart's values, and whether they are dates: a date column (timestamps,
    or ISO 8601 text) as days since 1970, as drift compares it, not nanoseconds."""
    dated = [
        pd.api.types.is_datetime64_any_dtype(s) or looks_like_dates(s) for s in (reference, current)
    ]
    if all(dated):
        return (
            finite_values(as_days(reference, name)),
            finite_values(as_days(current, name)),
            True,
        )
    return finite_values(reference), finite_values(current), False


def _chart(name: str, kind: str, reference: pd.Series, current: pd.Series) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.6), dpi=80)
    if kind == "numeric":
        ref, cur, dates = axis_values(name, reference, current)
        if dates:  # days since 1970 are matplotlib's own date numbers
            import matplotlib.dates as mdates

            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        values = np.concatenate([ref, cur])
        edges = np.histogram_bin_edges(values, bins=30) if len(values) else np.arange(2.0)
        for side, label in ((ref, "reference"), (cur, "batch")):
            # Precomputed counts drawn as one outline: far cheaper than a patch per bar.
            density = np.histogram(side, bins=edges, density=len(side) > 0)[0]
            ax.stairs(density, edges, fill=True, alpha=0.5, label=label)
    else:
        ref = reference.dropna().astype(str).value_counts(normalize=True)
        cur = current.dropna().astype(str).value_counts(normalize=True)
        shown = (ref.add(cur, fill_value=0)).sort_values(ascending=False).index
        shown = list(shown[:SHOWN_CATEGORIES])
        x = np.arange(len(shown))
        ax.bar(x - 0.2, ref.reindex(shown, fill_value=0), 0.4, label="reference")
        ax.bar(x + 0.2, cur.reindex(shown, fill_value=0), 0.4, label="batch")
        ax.set_xticks(x, shown, rotation=30, ha="right", fontsize=8)
    ax.set_title(name, fontsize=10)
    ax.legend(fontsize=8)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.88, bottom=0.25)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
