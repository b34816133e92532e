"""A registered version's model card: what the model is for, the data it learned from,
its params and learner, its test metrics against the trivial baseline, the gate's
verdict check by check, what drift is measured against, and how to rebuild it.

Pure: release/model_card.py gathers the facts from the version's lineage, runs and
reports; this builds the sections once and writes them as Markdown (the version's
MLflow description) and as a self-contained HTML page (no script, no link out).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

Table = tuple[list[str], list[list[str]]]  # header, rows


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str] = field(default_factory=list)  # paragraphs (inline `code` kept)
    table: Table | None = None


@dataclass(frozen=True)
class CardFacts:
    model: str  # "mlops-template"
    version: str
    intended_use: str
    owner: str
    limitations: str
    lineage: dict[str, str]  # lineage.* tags, without the prefix
    validation: dict[str, Any]  # data/interim/validation.json
    columns: list[tuple[str, str]]  # (name, kind) from the training schema
    params: dict[str, Any]  # the flattened params the model was trained with
    learner: str  # the estimator's type
    selection: str  # model=auto's cross-validation summary ("" if not auto)
    promotion: dict[str, Any]  # reports/promotion.json as promote wrote it
    reasons: list[str]  # the gate's reasons for each failed check
    monitor: dict[str, Any]  # the monitor settings drift is judged with


def sections(facts: CardFacts) -> list[Section]:
    lineage, data, promotion = facts.lineage, facts.validation, facts.promotion
    decision = promotion.get("decision", {})
    unset = "not stated (registry.card in conf/registry/)"
    found = [
        Section(
            "What it is for",
            [
                f"Intended use: {facts.intended_use or unset}",
                f"Owner: {facts.owner or unset}",
                f"Limitations: {facts.limitations or unset}",
            ],
        ),
        Section(
            "Training data",
            [
                f"Target `{data.get('target')}`: {_task_reason(data)}.",
                f"{data.get('n_rows', '?')} rows ({data.get('n_rows_without_target', 0)} "
                "without a target left out), split into training and test rows.",
                f"Train data md5 `{lineage.get('train_md5', '?')}`, test data md5 "
                f"`{lineage.get('test_md5', '?')}`, commit `{lineage.get('git_commit', '?')}`"
                + (
                    " with changes not yet committed (a run committed after it, as `make run`, "
                    "`make promote`, then a commit do: see Rebuild it)"
                    if lineage.get("git_dirty") == "true"
                    else ""
                ),
            ],
            (
                # As validate counted them: in every collected row, those left out for
                # want of a target too.
                ["column", "kind", f"missing cells (of {data.get('n_rows', '?')} rows)"],
                [
                    [name, kind, str(data.get("missing", {}).get(name, 0))]
                    for name, kind in facts.columns
                ],
            ),
        ),
    ]
    classes = data.get("classes") or {}
    if classes:
        total = sum(classes.values()) or 1
        found.append(
            Section(
                "Class balance",
                table=(
                    ["class", "rows", "share"],
                    [[str(c), str(n), f"{n / total:.1%}"] for c, n in classes.items()],
                ),
            )
        )
    found.append(
        Section(
            "Model",
            [
                f"Learner: {facts.learner}.",
                f"Chosen by: {facts.selection}" if facts.selection else "Chosen by its config.",
                f"Model file md5 `{lineage.get('model_md5', '?')}`.",
                *(
                    [f"Trained with {', '.join(p.replace('==', ' ') for p in libraries.split())}."]
                    if (libraries := lineage.get("libraries"))
                    else []
                ),
            ],
            (["param", "value"], [[k, str(v)] for k, v in sorted(facts.params.items())]),
        )
    )
    found.append(_metrics(promotion))
    found.append(
        Section(
            "The gate's verdict",
            [
                ("promoted" if decision.get("promote") else "refused")
                + (
                    f", against champion v{promotion['champion_version']}"
                    if promotion.get("champion_version")
                    else ", with no champion to compare with"
                ),
                *(f"Failed: {reason}" for reason in facts.reasons),
            ],
            (
                ["check", "passed", "numbers"],
                [
                    [c["check"], "yes" if c["passed"] else "no", _numbers(c)]
                    for c in decision.get("checks", [])
                ],
            ),
        )
    )
    monitor = facts.monitor
    found.append(
        Section(
            "Drift baseline",
            [
                "`monitor` compares each batch (or the inference log's windows) with these "
                f"training rows (md5 `{lineage.get('train_md5', '?')}`): a column drifts at "
                f"p < {monitor.get('p_value')}, and the batch when at least "
                f"{monitor.get('drift_share')} of its columns do.",
            ],
        )
    )
    found.append(
        Section(
            "Rebuild it",
            [
                f"`make reproduce VERSION={facts.version}` checks out commit "
                f"`{lineage.get('promoted_from_commit') or lineage.get('git_commit', '?')}` "
                "(or, when its dvc.lock records another model, the later commit whose "
                "dvc.lock records this one), runs the pipeline again and says whether the "
                "model file, data and metrics are byte-identical.",
            ],
        )
    )
    return found


def _metrics(promotion: dict[str, Any]) -> Section:
    metrics = promotion.get("candidate_metrics") or {}
    baseline = (promotion.get("comparisons") or {}).get("baseline")
    confidence = (promotion.get("gate") or {}).get("bootstrap", {}).get("confidence", 0.95)
    lines = []
    if baseline:
        low, high = baseline["interval"]
        trivial = {"classification": "the majority class", "regression": "the mean"}.get(
            promotion.get("task", ""), "the majority class or mean"
        )
        lines.append(
            f"{baseline['metric']} {baseline['a']:.4f} against {baseline['b']:.4f} for the "
            f"trivial baseline ({trivial}) on {baseline['rows']} test rows: "
            f"improvement {baseline['improvement']:+.4f}, {confidence:.0%} interval "
            f"[{low:+.4f}, {high:+.4f}] (paired bootstrap), {baseline['verdict']}."
        )
    return Section(
        "Test metrics",
        lines or ["Not compared on test rows (the version was already champion)."],
        (["metric", "value"], [[k, f"{v:.4f}"] for k, v in sorted(metrics.items())])
        if metrics
        else None,
    )


def _numbers(check: dict[str, Any]) -> str:
    if "interval" in check:
        low, high = check["interval"]
        return (
            f"{check.get('candidate')} vs {check.get('baseline', check.get('champion'))}, "
            f"improvement {check.get('improvement')} [{low}, {high}], {check.get('verdict')}"
        )
    if "value" in check:
        return f"{check.get('metric')} = {check.get('value')}"
    return str(check.get("detail", ""))


def markdown(facts: CardFacts, tables: bool = True, note: str = "") -> str:
    """The card in Markdown; without its tables (`note` saying where they are) where the
    text must be short, as a registry description is."""
    out = [f"# Model card: {facts.model} v{facts.version}", ""]
    if note:
        out += [note, ""]
    for section in sections(facts):
        out += [f"## {section.title}", ""]
        out += [f"{line}  " for line in section.lines]
        if section.table and tables:
            header, rows = section.table
            out += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in r) + " |" for r in rows]
        out.append("")
    return "\n".join(out)


STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;"
    "text-align:left}th{background:#f3f3f3}code{background:#f3f3f3;padding:0 .2em}"
)


def page(facts: CardFacts) -> str:
    """The card as one HTML page that opens offline: inline style, nothing loaded."""
    title = html.escape(f"Model card: {facts.model} v{facts.version}")
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
    ]
    for section in sections(facts):
        out.append(f"<h2>{html.escape(section.title)}</h2>")
        out += [f"<p>{_inline(line)}</p>" for line in section.lines]
        if section.table:
            header, rows = section.table
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header))
            out += [
                "<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in row) + "</tr>"
                for row in rows
            ]
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def _inline(text: str) -> str:
    """Escaped text, `code` spans as <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _task_reason(data: dict[str, Any]) -> str:
    """validate's reason for the task, without its own "target 'name': " (said before it)."""
    reason = str(data.get("task_reason", data.get("task")))
    return reason.removeprefix(f"target '{data.get('target')}': ")
