"""promote: register the candidate as `challenger`; make it `champion` if it passes the gate.

Exit codes (for CI): 0 promoted, 3 refused by the gate, 2 bad input or unreachable store.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_template import stop_signals
from mlops_template.config import Config
from mlops_template.core.champion_history import rolled_back
from mlops_template.core.gate import already_champion, refused_as_rolled_back, shadow_check
from mlops_template.core.gate_checks import NoShadow, Shadow
from mlops_template.core.schema import TrainingSchema
from mlops_template.core.validation_report import ValidationReport
from mlops_template.errors import NothingLogged, PipelineError
from mlops_template.io import model_versions, registry, shadow_rows
from mlops_template.io.atomic import write_json, write_parquet
from mlops_template.io.lineage import LOCK_FILE
from mlops_template.io.workspace_lock import workspace_locked
from mlops_template.release import gate_rows
from mlops_template.release.candidate import committed_outputs, find_candidate
from mlops_template.release.model_card import write_card
from mlops_template.release.promotion_report import PromotionReport
from mlops_template.release.refusal_hint import imbalance_hint

GATE_REFUSED = 3
NOT_MOVED = "promotion.not_moved"  # not gate.*: rollback reads those as checks
CHAMPION_CHANGED = "the champion changed while this promotion was deciding"
REPORT = "reports/promotion.json"
ROWS = "reports/promotion_rows.parquet"  # the rows the decision was made on


def evaluate_gate(
    cfg: Config, client: Any, name: str
) -> tuple[PromotionReport, pd.DataFrame | None]:
    """Compare candidate, champion and the trivial baseline; decide. Writes nothing;
    returns the report and the rows compared (None when nothing was)."""
    candidate = find_candidate(cfg, client)
    schema = TrainingSchema.read(cfg.paths.schema_)
    gate = getattr(cfg.gate, schema.task)
    champion = registry.alias_version(client, name, registry.CHAMPION)
    registered = model_versions.version_of(client, name, candidate.recorded)
    common: dict[str, Any] = {
        "model_name": name,
        "task": schema.task,
        "candidate": {"model_uri": candidate.model_uri, **candidate.lineage},
        "champion_version": champion,
        "registered_version": registered,
        "gate": {
            **gate.model_dump(),
            "bootstrap": cfg.gate.bootstrap.model_dump(),
            "shadow": cfg.gate.shadow.model_dump(),
        },
    }
    evaluation = {"path": cfg.paths.test, "md5": candidate.test_md5}
    if champion is not None and champion == registered:
        decided = already_champion(champion)
        return PromotionReport(
            **common, evaluation_data=evaluation, decision=decided, already_champion=True
        ), None
    if registered is not None and (event := rolled_back(registry.events(client, name), registered)):
        return PromotionReport(
            **common, evaluation_data=evaluation, decision=refused_as_rolled_back(registered, event)
        ), None
    held_by = (
        gate_rows.load_champion(client, model_versions.ModelRef(name, champion, registry.CHAMPION))
        if champion
        else None
    )
    compare = partial(
        gate_rows.compare,
        cfg,
        schema,
        candidate=model_versions.load_logged(
            candidate.model_uri, f"the candidate ({candidate.model_uri})", candidate.recorded
        ),
        train=pd.read_parquet(cfg.paths.train),
        test=pd.read_parquet(cfg.paths.test),
        candidate_test_md5=candidate.test_md5,
    )
    result, decided = gate_rows.judge(
        compare, gate, held_by, partial(live_check, cfg, champion, registered)
    )
    report = PromotionReport(
        **common,
        evaluation_data={**evaluation, "rows": result.rows},
        candidate_metrics=result.candidate_metrics,
        champion_metrics=result.champion_metrics,
        comparisons=result.comparisons,
        decision=decided,
    )
    return report, result.compared


def live_check(cfg: Config, champion: str, candidate: str | None) -> Shadow | NoShadow | None:
    """gate.shadow: the candidate's version scored in shadow beside the champion's, on
    the logged requests whose labels have arrived (as make shadow-report shows them)."""
    settings = cfg.gate.shadow
    if not settings.use:
        return None
    found, missing = None, "none logged"
    if candidate is not None:
        try:
            logged = shadow_rows.read(cfg.predict.table, cfg.monitor.labels_table)
        except NothingLogged as err:  # no log, or no shadow rows in it: no evidence yet
            return shadow_check(settings.require, None, champion, candidate, str(err))
        pair = (champion, candidate)
        comparisons = logged.compared(cfg.gate, settings.min_rows)
        found = next((c for c in comparisons if (c.served_version, c.shadow_version) == pair), None)
        if found is None and logged.pairs:
            missing = "no labelled request scored by both"
    return shadow_check(settings.require, found, champion, candidate, missing)


def promote(cfg: Config, dry_run: bool, verbose: bool = False) -> int:
    # Not while ct retrains here: its dvc.lock model is a try's, not the workspace's.
    with workspace_locked("promote --dry-run" if dry_run else "promote"), ExitStack() as moved:
        report = decide_promotion(cfg, dry_run, moved)
        code = report_promotion(report, verbose)
    validation = Path(cfg.paths.validation)
    if not report.decision.promote and validation.exists():
        data = ValidationReport.read(validation)
        if hint := imbalance_hint(report.decision.failed(), data, cfg.model):
            print(hint, file=sys.stderr)
    return code


def decide_promotion(cfg: Config, dry_run: bool, moved: ExitStack | None = None) -> PromotionReport:
    """Decide and (unless a dry run) register and move the alias; the report of it all.
    From the alias's move on, a stop (Ctrl-C, SIGTERM) waits until `moved` closes (the
    caller's, around what must follow the move: the card, the report, ct's workspace
    kept), else until the promotion's records are written."""
    client = registry.connect()
    name = cfg.registry.model_name
    # Deciding and moving the alias under one lock: a concurrent promotion waits and
    # then competes against whichever champion this one leaves.
    with nullcontext() if dry_run else registry.registry_lock(client, name, create=True) as lock:
        report, compared = evaluate_gate(cfg, client, name)
        report = report.but(dry_run=dry_run)
        if not dry_run and compared is not None:
            write_parquet(ROWS, compared)
        # A rolled-back version keeps the tags of the gate that once passed it.
        rolled_back = report.decision.check("rolled_back") is not None
        if not dry_run and not report.already_champion and not rolled_back:
            registered = _register(cfg, client, name, report, moved, confirm=lock.confirm)
            report = report.but(registered_version=registered)
    return report


def _register(
    cfg: Config,
    client: Any,
    name: str,
    report: PromotionReport,
    moved: ExitStack | None = None,
    *,
    confirm: Callable[[], None] = lambda: None,
) -> str:
    """The candidate registered (or its earlier version's tags brought up to date) as
    challenger, then _move_and_record; its version. `confirm` first: the registry is
    still this promotion's to change (registry.registry_lock)."""
    confirm()
    decision = report.decision
    tags = {f"lineage.{k}": v for k, v in report.candidate.items() if k != "model_uri"}
    tags["gate.decision"] = "promoted" if decision.promote else "refused"
    for check in decision.as_json()["checks"]:
        tags[f"gate.{check['check']}"] = json.dumps(check, sort_keys=True)
    # A model registered before (same md5) keeps its version: no duplicates.
    version = report.registered_version
    if version is None:
        # A SQL store gives the version as an int; the registry's API takes it as text.
        registered = registry.register_quietly(report.candidate["model_uri"], name, tags)
        version = str(registered.version)
    else:
        # The checks of an earlier decision that this one did not make go.
        held = client.get_model_version(name, version).tags
        for key in held:
            if key.startswith("gate.") and key not in tags:
                client.delete_model_version_tag(name, version, key)
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, registry.CHALLENGER, version)
    with ExitStack() as own:
        _move_and_record(cfg, client, report, version, moved or own, confirm=confirm)
    return version


def _move_and_record(
    cfg: Config,
    client: Any,
    report: PromotionReport,
    version: str,
    moved: ExitStack,
    *,
    confirm: Callable[[], None] = lambda: None,
) -> None:
    """The champion moved (if promoted), then the gate's run and the model card."""
    from mlops_template.io.report_runs import record_report_run
    from mlops_template.io.tracking import experiment_id

    name, decision = report.model_name, report.decision
    experiment = experiment_id(client, cfg.tracking.operations_experiment)
    if decision.promote:
        confirm()  # again after registering: just before the move
        if registry.alias_version(client, name, registry.CHAMPION) != report.champion_version:
            # Its gate.decision says `promoted`, and it was not crowned (a team trial).
            client.set_model_version_tag(name, version, NOT_MOVED, CHAMPION_CHANGED)
            raise PipelineError(
                f"the champion of {name} changed while this promotion was deciding; "
                "nothing was promoted: run promote again"
            )
        # Stopped after the move, the champion would have no card nor gate run, and
        # promote again says it is champion already.
        moved.enter_context(stop_signals.deferred())
        registry.move_champion(
            client,
            experiment,
            name,
            version,
            action="promote",
            extra={"gate": "passed", "metric": report.metric},
        )
    # The decision and every number behind it, as an MLflow run with the JSON report.
    record_report_run(
        client,
        experiment,
        f"gate {report.model_name} v{version}",
        tags={
            "pipeline.stage": "promote",
            "registry.model_version": version,
            "gate.decision": "promoted" if decision.promote else "refused",
        },
        metrics={
            **{f"candidate.{k}": v for k, v in report.candidate_metrics.items()},
            **{f"champion.{k}": v for k, v in (report.champion_metrics or {}).items()},
        },
        documents={"promotion.json": report.as_json()},
    )
    # Last: what it says (the gate's verdict included) is final. The decision stands
    # whatever happens to the card.
    try:
        write_card(cfg, client, report, version)
    except Exception as err:  # said, and the promotion kept
        print(f"warning: the model card of v{version} was not written: {err}", file=sys.stderr)


def report_promotion(report: PromotionReport, verbose: bool = False) -> int:
    """Write the report (printed too when verbose), say the verdict and, on a refusal,
    the failed checks and why; the exit code (0 promoted, 3 refused)."""
    decision = report.decision
    if not report.dry_run:
        write_json(REPORT, report.as_json())
    if verbose:
        print(json.dumps(report.as_json(), indent=2, sort_keys=True, default=str))
    failed = f" (failed: {', '.join(decision.failed())})" if not decision.promote else ""
    name, version = report.model_name, report.registered_version
    if version and version == report.champion_version:
        print(
            f"{name} v{version} is this model and already champion",
            file=sys.stderr,
        )
    elif report.dry_run:
        verdict = "would promote" if decision.promote else "would refuse"
        print(f"dry run: {verdict} the candidate{failed}; nothing was changed", file=sys.stderr)
    elif decision.promote:
        before = f" ({registry.RUNNING_SERVERS})" if report.champion_version else ""
        print(f"promoted: {name} v{version} is champion{before}", file=sys.stderr)
    elif decision.check("rolled_back") is not None:
        said = f"refused: {name} v{version} was rolled back; nothing changed{failed}"
        print(said, file=sys.stderr)
    else:
        print(
            f"refused: {name} v{version} is challenger only{failed}",
            file=sys.stderr,
        )
    at, md5 = report.candidate.get("promoted_from_commit", ""), report.candidate.get("model_md5")
    if md5 not in committed_outputs(at).values():  # trained, then committed: no warning
        known = at not in ("", "unknown")
        here = f"the commit here ({at[:12]}) does not record" if known else "no git commit records"
        print(
            f"warning: {here} this model in {LOCK_FILE}: `make reproduce` can rebuild it "
            "once a commit holds its code, conf/ and dvc.lock",
            file=sys.stderr,
        )
    if decision.promote:
        return 0
    for line in decision.reasons():
        print(f"  {line}", file=sys.stderr)
    return GATE_REFUSED
