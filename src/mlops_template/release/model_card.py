"""Write a registered version's model card (core/model_card.py): into the version's
MLflow description, so the registry's UI shows it, and as Markdown and HTML into its
training run (`model_card/`) and reports/model_card/. Called by promote when it
registers or re-tags a version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlops_template.config import Config
from mlops_template.core.model_card import CardFacts, markdown, page
from mlops_template.core.schema import TrainingSchema
from mlops_template.io.atomic import write_text
from mlops_template.release.promotion_report import PromotionReport

REPORT_DIR = Path("reports/model_card")
ARTIFACTS = "model_card"
# What the registry keeps of a description (MLflow's SQL store: 5,000 characters).
DESCRIPTION_LIMIT = 5000


def write_card(cfg: Config, client: Any, report: PromotionReport, version: str) -> str:
    """The card of `version`, everywhere it goes; returns its Markdown."""
    facts = card_facts(cfg, client, report, version)
    run_id = report.candidate.get("source_run_id", "")
    full, html_page = markdown(facts), page(facts)
    for suffix, text in ((".md", full), (".html", html_page)):
        write_text(REPORT_DIR / f"v{version}{suffix}", text)
        if run_id:
            client.log_text(run_id, text, f"{ARTIFACTS}/model_card{suffix}")
    description = full
    if len(description) > DESCRIPTION_LIMIT:
        note = f"Tables: `{ARTIFACTS}/model_card.html` in run `{run_id}`."
        description = markdown(facts, tables=False, note=note)[:DESCRIPTION_LIMIT]
    client.update_model_version(report.model_name, version, description=description)
    return full


def card_facts(cfg: Config, client: Any, report: PromotionReport, version: str) -> CardFacts:
    card = cfg.registry.card
    lineage = {k: v for k, v in report.candidate.items() if k != "model_uri"}
    run = client.get_run(lineage["source_run_id"]) if lineage.get("source_run_id") else None
    tags = run.data.tags if run else {}
    params = run.data.params if run else {}
    validation = Path(cfg.paths.validation)
    schema = Path(cfg.paths.schema_)
    return CardFacts(
        model=report.model_name,
        version=version,
        intended_use=card.intended_use,
        owner=card.owner,
        limitations=card.limitations,
        lineage=lineage,
        validation=json.loads(validation.read_text()) if validation.is_file() else {},
        columns=[(c.name, c.kind) for c in TrainingSchema.read(schema).columns]
        if schema.is_file()
        else [],
        params=learner_params(params),
        learner=tags.get("model_type", "?"),
        selection=tags.get("model_selection", ""),
        promotion=report.as_json(),
        reasons=report.decision.reasons(),
        monitor={"p_value": cfg.monitor.p_value, "drift_share": cfg.monitor.drift_share},
    )


def learner_params(params: dict[str, str]) -> dict[str, str]:
    """The train run's model and features params; a candidate's search ranges only where
    tune.method searched them (with `none` they were never read)."""
    searched = params.get("tune.method", "none") != "none"
    return {
        k: v
        for k, v in params.items()
        if k.startswith(("model.", "features.")) and (searched or ".search." not in k)
    }
