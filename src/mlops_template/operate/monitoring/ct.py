"""ct: the continuous-training loop for one incoming batch.

1. Score the batch with the champion into the predictions table (a batch that fails the
   schema checks is reported, not scored) and monitor it against the training data.
2. No labels, or metrics in range: done.
3. Out of range: add the labelled rows to the training data (the data source's folder
   under `paths.incoming`, tracked with `dvc add`) and retrain through `dvc repro`, once
   per entry of `ct.tries` (Hydra overrides written into conf/: each try a different
   hypothesis, not a new seed; a try that composes to a config already tried is skipped).
   The first model the promotion gate accepts becomes champion and scores the batch again.
4. None accepted: the workspace goes back to the champion's data, params and dvc.lock,
   and `alert.json` says why (exit 4), for the CT workflow to open an issue.

One ct (or promote) at a time in a workspace: a second one is refused before it touches
anything (io/workspace_lock.py).

Exit codes: 0 done, 2 bad input, error or workspace in use, 4 alert.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from mlops_template.compose import compose_text, stale_diff
from mlops_template.conf_edits import apply_to_conf
from mlops_template.config import Config, load_config
from mlops_template.core.ct_report import CtReport, Try
from mlops_template.core.ct_trigger import decide
from mlops_template.core.drift import OUT_OF_RANGE
from mlops_template.core.monitor_report import BatchFile
from mlops_template.core.schema import TrainingSchema
from mlops_template.errors import PipelineError
from mlops_template.io import registry
from mlops_template.io.atomic import write_json, write_text
from mlops_template.io.datasets import incoming_folder
from mlops_template.io.lineage import file_md5
from mlops_template.io.report_runs import log_report_run
from mlops_template.io.workspace_lock import workspace_locked
from mlops_template.operate.batch.predict import predict
from mlops_template.operate.monitoring.ct_workspace import (
    Workspace,
    refuse_unaddable,
    restored_unless_promoted,
)
from mlops_template.operate.monitoring.log_monitor import labelled_log_rows, log_report
from mlops_template.operate.monitoring.monitor import drift_report, load_model_data
from mlops_template.release.promote import decide_promotion, report_promotion

EXIT_ALERT = 4
CT_REPORT, ALERT, ALERT_ISSUE, SUMMARY = "ct.json", "alert.json", "alert.md", "summary.md"
ALERT_TITLE = "CT alert: retraining could not beat the champion"
LABELS_TITLE = "CT alert: the labels look wrong"  # its own issue: nothing was retrained


def ct(
    cfg: Config,
    batch: str,
    version: str | None = None,
    alias: str | None = None,
    *,
    verbose: bool = False,
) -> int:
    """Score, monitor and, if the labels show the champion out of range, retrain and
    promote. Says a line per step; `verbose` adds the pipeline's and the gate's own
    output and prints the whole report (always written to ct.report_dir). Another ct
    (or promote) running in this workspace refuses it before it touches anything."""
    with workspace_locked(f"ct {batch}"):
        return _loop(cfg, batch, version, alias, verbose)


def _loop(cfg: Config, batch: str, version: str | None, alias: str | None, verbose: bool) -> int:
    path = Path(batch)
    _check_workspace(cfg)
    client = registry.connect()
    champion = load_model_data(cfg, client, version, alias)
    refuse_unaddable(path, champion.schema, cfg)
    predict(cfg, batch, version, alias, None)
    monitored = drift_report(cfg, champion, path)
    print(monitored.summary(champion.schema.target.name), file=sys.stderr)
    performance = monitored.performance
    record = CtReport(
        batch=monitored.batch,
        champion=monitored.model,
        drift=monitored.dataset.decision,
        performance=performance,
        tries=[],
    )
    if performance is None or performance.decision != OUT_OF_RANGE:
        reason = performance.decision if performance else "no labels"
        return _finish(cfg, record, f"no retraining ({reason})", verbose)
    if not cfg.ct.learn_below_chance and (suspect := performance.labels_suspect()):
        record.notes = [suspect]
        return _finish(cfg, record, "alert", verbose, LABELS_TITLE)
    rescore = lambda: predict(load_config(), batch, None, registry.CHAMPION, None)  # noqa: E731
    return _retrain(cfg, record, path, champion.schema, verbose=verbose, rescore=rescore)


def ct_from_log(
    cfg: Config, version: str | None = None, alias: str | None = None, *, verbose: bool = False
) -> int:
    """The loop driven by the inference log: retrain when enough of its last labelled
    windows say so (ct.trigger), on their labelled rows."""
    with workspace_locked("ct --log"):
        _check_workspace(cfg)
        champion = load_model_data(cfg, registry.connect(), version, alias)
        report = log_report(cfg, champion)
        print(report.summary(), file=sys.stderr)
        trigger = cfg.ct.trigger
        verdict = decide(report.windows, trigger.windows, trigger.out_of_range)
        for line in verdict.reasons:
            print(f"ct: {line}", file=sys.stderr)
        latest = verdict.windows[-1] if verdict.windows else None
        record = CtReport(
            batch=BatchFile(path=report.table, md5="", rows=report.rows),
            champion=report.model,
            drift=latest.dataset.decision if latest and latest.dataset else "no rows",
            performance=latest.performance if latest else None,
            tries=[],
            trigger=verdict.reasons,
        )
        if not verdict.retrain:
            return _finish(cfg, record, "no retraining (the log's windows)", verbose)
        if not cfg.ct.learn_below_chance and (
            suspect := [
                f"{w.start} to {w.end}: {why}"
                for w in verdict.windows
                if (why := w.performance.labels_suspect())
            ]
        ):
            record.notes = suspect
            return _finish(cfg, record, "alert", verbose, LABELS_TITLE)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "inference-log-rows.parquet"
            rows = labelled_log_rows(cfg, champion.schema, verdict.windows)
            rows.to_parquet(path, index=False)
            record.batch = BatchFile(path=report.table, md5=file_md5(path), rows=len(rows))
            return _retrain(cfg, record, path, champion.schema, verbose=verbose, rescore=None)


def _check_workspace(cfg: Config) -> None:
    if stale_diff(Path.cwd()):  # tries are written into conf/, so conf/ must be the source
        raise PipelineError(
            "params.yaml is not what conf/ composes to: ct writes its tries into conf/; "
            "run `python -m mlops_template params set KEY=VALUE` (or `make params`) first"
        )
    for attempt, overrides in enumerate(cfg.ct.tries, start=1):  # each try must compose
        compose_text(Path.cwd(), overrides, f"ct.tries (try {attempt})")


def _retrain(
    cfg: Config,
    record: CtReport,
    path: Path,
    schema: TrainingSchema,
    *,
    verbose: bool,
    rescore: Callable[[], object] | None,
) -> int:
    """The rows added to the training data, then each try until the gate promotes one
    (then `rescore`, if given); none: the workspace as it was, and an alert."""
    name, client = cfg.registry.model_name, registry.connect()
    before = registry.alias_version(client, name, registry.CHAMPION)

    def moved_to() -> str:
        now = registry.alias_version(client, name, registry.CHAMPION)
        return f"v{now}" if now != before else ""

    with restored_unless_promoted(moved_to) as workspace:
        if not workspace.add_batch(cfg, path, schema):
            # The log's windows overlap from run to run: their rows may all be in already.
            record.notes = [
                "every labelled row is in the training data already (an earlier ct added "
                "it): retraining would learn nothing new"
            ]
            return _finish(cfg, record, "alert", verbose)
        tried = run_tries(cfg.ct.tries, workspace, lambda n, o: _try(n, o, verbose, workspace))
        record.tries.extend(tried)
        if tried and tried[-1].promoted:
            if rescore is not None:
                rescore()
            return _finish(cfg, record, f"promoted v{tried[-1].version}", verbose)
    return _finish(cfg, record, "alert", verbose)


def run_tries(
    tries: list[list[str]], workspace: Workspace, retrain: Callable[[int, list[str]], Try]
) -> list[Try]:
    """Each try's overrides written into conf/ (as it was before any try), then retrain,
    until one is promoted; a try that composes to a config already tried is skipped."""
    done: list[Try] = []
    tried_configs: dict[str, int] = {}
    for attempt, overrides in enumerate(tries, start=1):
        workspace.reset_conf()
        params = apply_to_conf(Path.cwd(), overrides)
        if params in tried_configs:
            print(
                f"ct try {attempt}: {overrides} is try {tried_configs[params]}'s config; skipped",
                file=sys.stderr,
            )
            continue
        tried_configs[params] = attempt
        done.append(retrain(attempt, overrides))
        if done[-1].promoted:
            break
    return done


def _try(attempt: int, overrides: list[str], verbose: bool, workspace: Workspace) -> Try:
    """One try: the pipeline on the data with the batch, then the promotion gate; the
    workspace kept once its model is champion, before a stop can put it back."""
    print(f"ct try {attempt}: dvc repro with {overrides or 'the current config'}", file=sys.stderr)
    # --quiet: without DVC's hints (autostage, `git add dvc.lock`), which would land in
    # the middle of the loop's report. The stages' own output only when verbose, or
    # when the pipeline fails.
    done = subprocess.run(
        ["dvc", "repro", "--quiet"],
        check=False,
        stdout=None if verbose else subprocess.PIPE,
        stderr=None if verbose else subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    if done.returncode != 0:
        said = "" if verbose else "\n" + "\n".join(done.stdout.strip().splitlines()[-20:])
        raise PipelineError(f"ct try {attempt}: `dvc repro` failed (exit {done.returncode}){said}")
    with ExitStack() as moved:
        report = decide_promotion(load_config(), dry_run=False, moved=moved)
        code = report_promotion(report, verbose)
        # Retraining that reproduces the champion itself has not beaten it.
        promoted = code == 0 and not report.already_champion
        if promoted:
            workspace.keep(f"v{report.registered_version}")
    decision = report.decision
    check = decision.check("improvement")
    return Try(
        attempt=attempt,
        overrides=list(overrides),
        version=report.registered_version,
        promoted=promoted,
        metric=report.metric,
        candidate=check.candidate if check else None,
        champion=check.champion if check else None,
        failed_checks=decision.failed()
        or (["already_champion"] if report.already_champion else []),
        reasons=decision.reasons(),
    )


def _finish(
    cfg: Config, record: CtReport, outcome: str, verbose: bool, title: str = ALERT_TITLE
) -> int:
    record.outcome = outcome
    folder = Path(cfg.ct.report_dir)
    alert = outcome == "alert"
    if alert:
        record.reasons = record.alert_reasons()
    stored = record.as_json()
    files = [
        write_json(folder / CT_REPORT, stored),
        write_text(folder / SUMMARY, record.markdown()),
    ]
    if alert:
        files.append(write_json(folder / ALERT, stored))
        # The issue the CT workflow opens (or updates, by title) from this file.
        front = f'---\ntitle: "{title}"\nlabels: ct-alert\n---\n'
        files.append(write_text(folder / ALERT_ISSUE, front + record.markdown()))
    else:  # an earlier alert is not this batch's
        for name in (ALERT, ALERT_ISSUE):
            (folder / name).unlink(missing_ok=True)
    log_report_run(
        cfg.tracking.operations_experiment,
        f"ct {Path(record.batch.path).name}",
        tags={
            "pipeline.stage": "ct",
            "ct.outcome": outcome,
            "batch_md5": record.batch.md5,
            "registry.model_version": record.champion.version,
        },
        metrics={"ct.tries": len(record.tries)},
        files=files,
        folder="ct",
    )
    if verbose:
        print(record.markdown())
    print(f"ct: {outcome}", file=sys.stderr)
    if alert:
        for line in record.reasons or []:
            print(f"  {line}", file=sys.stderr)
        print(f"alert written to {folder / ALERT}", file=sys.stderr)
        return EXIT_ALERT
    if record.tries:
        added = incoming_folder(cfg.paths.incoming, cfg.data)
        print(
            f"commit conf/, params.yaml, dvc.lock, metrics.json, {cfg.paths.cv}, "
            f"{cfg.paths.tuned} and {added}/ (its *.dvc and "
            ".gitignore), and `dvc push`",
            file=sys.stderr,
        )
    return 0
