"""Choosing among DVC experiments, and keeping a search's settings.

`exp best` ranks the experiments of the current commit by the trained model's
cross-validated score on its training rows (reports/cv.json, written by train with
model=auto or tune=optuna), never by the test metric: a choice made on the test rows
would make evaluate's score optimistic. `--apply` brings the best into the workspace
with `dvc exp apply`. `tune keep` writes reports/tuned_params.yaml into conf/.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops_template.conf_edits import params_overrides
from mlops_template.errors import PipelineError
from mlops_template.io.workspace_lock import workspace_locked
from mlops_template.metric_names import STOPPED_BY_TIME, improvement


@dataclass(frozen=True)
class Scored:
    name: str
    score: float
    test: float | None  # the test metric, shown, never ranked by
    committed: bool = False  # the commit's own score, which an experiment must beat
    rev: str = field(default="", compare=False)  # its git commit (DVC keeps it as one)
    stopped_by_time: bool = False  # a search of it ran out of tune.timeout


def scored_experiments(
    shown: list[dict[str, Any]], cv_path: str, metric: str, metrics_path: str, train_path: str
) -> tuple[list[Scored], list[str]]:
    """Experiments in `dvc exp show --json` output with a cross-validated score on
    `metric`, best first (ties keep DVC's order), and the names of those left out: with
    their state when they did not finish, as DVC shows a failed or queued run with its
    baseline's metrics, which must not rank it; and those whose training data (the
    `train_path` prepare wrote) differs from their commit's dvc.lock, as a score on other
    rows (other data, split or reading settings) cannot be compared. The commit's own
    score (its committed cv.json) is ranked too, first among equals: an experiment that
    does not beat it is no reason to change the settings."""
    found, unscored = [], []
    for baseline in shown:
        rows = _out_hash(baseline, train_path)
        if baseline.get("experiments") and (
            own := _scores(baseline, cv_path, metric, metrics_path)
        ):
            name = baseline.get("name") or str(baseline.get("rev", "?"))[:7]
            score, test, timed = own
            found.append(Scored(f"{name} (committed)", score, test, True, "", timed))
        for experiment in baseline.get("experiments") or []:
            revision = (experiment.get("revs") or [{}])[0]
            name = experiment.get("name") or str(revision.get("rev", "?"))[:7]
            state = (experiment.get("executor") or {}).get("state") or "success"
            if revision.get("error") and state == "success":
                state = "failed"
            if state != "success":
                unscored.append(f"{name} ({state})")
                continue
            if rows is not None and _out_hash(revision, train_path) != rows:
                unscored.append(f"{name} (other training data)")
                continue
            scores = _scores(revision, cv_path, metric, metrics_path)
            if scores is None:
                unscored.append(name)
                continue
            score, test, timed = scores
            found.append(Scored(name, score, test, False, str(revision.get("rev") or ""), timed))
    return sorted(found, key=lambda s: improvement(metric, 0.0, s.score)), unscored


def _scores(
    row: dict[str, Any], cv_path: str, metric: str, metrics_path: str
) -> tuple[float, float | None, bool] | None:
    """A row's cross-validated score, test metric, and whether a search ran out of time
    (None without a score)."""
    metrics = (row.get("data") or {}).get("metrics") or {}
    cv = (metrics.get(cv_path) or {}).get("data") or {}
    if (score := cv.get(f"cv_{metric}")) is None:
        return None
    test = ((metrics.get(metrics_path) or {}).get("data") or {}).get(metric)
    return score, test, bool(cv.get(STOPPED_BY_TIME))


def _out_hash(row: dict[str, Any], path: str) -> str | None:
    """An output's hash in a row of `dvc exp show --json` (None where not run)."""
    return (((row.get("data") or {}).get("outs") or {}).get(path) or {}).get("hash")


def best(
    cv_path: str, metrics: list[str], metrics_path: str, train_path: str, *, apply: bool
) -> int:
    """Rank by the first of `metrics` (the gate's, for the task; where the task is not
    known here, both tasks' in turn) that an experiment has a cross-validated score on."""
    done = subprocess.run(
        ["dvc", "exp", "show", "--json", "--no-fetch"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise PipelineError(f"dvc exp show failed: {done.stderr.strip()}")
    shown = json.loads(done.stdout)
    for metric in metrics:
        ranked, unscored = scored_experiments(shown, cv_path, metric, metrics_path, train_path)
        if ranked:
            break
    if all(item.committed for item in ranked):
        left = f" (left out: {', '.join(unscored)})" if unscored else ""
        if unscored and all(u.endswith("(other training data)") for u in unscored):
            left += f"; if {train_path} is the same, dvc.lock may be stale: dvc repro, commit"
        named = metric if ranked else " or ".join(metrics)  # the task's, else each tried
        raise PipelineError(
            f"no experiment of this commit has a cross-validated {named} in {cv_path} on "
            f"its training rows{left}: run them with model=auto (the default) or "
            "tune=optuna, e.g. `dvc exp run --queue -S 'model.candidates.linear.alpha=0.1,1,"
            "10'` then `dvc exp run --run-all`"
        )
    print(f"experiments by cross-validated {metric} on their training rows (best first):")
    for item in ranked:
        test = f"   (test {metric} {item.test:.6g}, not ranked by)" if item.test is not None else ""
        timed = "   (search stopped by tune.timeout)" if item.stopped_by_time else ""
        print(f"  {item.name:<24} cv_{metric} {item.score:.6g}{test}{timed}")
    if any(item.stopped_by_time for item in ranked):
        print(
            "a search stopped by tune.timeout tried as many settings as the machine had "
            "time for, fewer than tune.trials: its score depends on the machine's speed"
        )
    if unscored:  # one model without a search: train wrote no cross-validated score
        print(
            "left out, without a cross-validated score (one model without tune=optuna), "
            f"not finished, or on other training data than this commit's dvc.lock: "
            f"{', '.join(unscored)}"
        )
    if ranked[0].committed:
        kept = "; nothing applied" if apply else ""
        print(f"best: {ranked[0].name}: no experiment beats the commit's own settings{kept}")
    elif apply:
        with workspace_locked("exp best --apply"):  # not while ct changes the workspace
            refuse_uncommitted_settings()
            name = ranked[0].name
            # Refused before `dvc exp apply` changes anything: settings the conf/ the
            # experiment brings cannot say.
            _refuse_unsayable(ranked[0])
            if subprocess.run(["dvc", "exp", "apply", name], check=False).returncode != 0:
                raise PipelineError(
                    f"`dvc exp apply {name}` failed (above); the workspace may hold part of "
                    "it: `git checkout -- . && dvc checkout` puts the commit's back"
                )
            keep_in_conf(Path.cwd(), name)
    else:
        print(f"best: {ranked[0].name} (`python -m mlops_template exp best --apply` applies it)")
    return 0


def refuse_uncommitted_settings() -> None:
    """`dvc exp apply` replaces conf/ and params.yaml without a word (their edits only in
    DVC's stash): edits not committed there are refused instead."""
    from mlops_template.config import PARAMS_FILE

    status = ["git", "status", "--porcelain", "--", "conf", PARAMS_FILE]
    changed = subprocess.run(status, capture_output=True, text=True, check=False).stdout
    if files := [line[3:] for line in changed.splitlines()]:
        raise PipelineError(
            f"exp best --apply would replace uncommitted changes to {', '.join(files)}: "
            "commit them (or `git stash`) first; where they are what a `dvc exp run` in the "
            "workspace left (DVC keeps it as an experiment), `make restore` puts the "
            "commit's back"
        )


def _refuse_unsayable(experiment: Scored) -> None:
    """Refuse an experiment whose params.yaml no overrides of its own conf/ give (what
    keep_in_conf would write after `dvc exp apply`), both read from the commit DVC keeps
    it as, checked out beside the workspace."""
    from mlops_template.config import PARAMS_FILE
    from mlops_template.io.commit_worktree import worktree

    if not experiment.rev:
        raise PipelineError(f"{experiment.name} names no commit to read; nothing applied")
    with worktree(experiment.rev) as tree:  # a commit it cannot check out: said in one line
        params = tree / PARAMS_FILE
        if not params.is_file():
            raise PipelineError(f"{experiment.name}'s commit has no {PARAMS_FILE}; nothing applied")
        params_overrides(tree, params.read_text(encoding="utf-8"), f"{experiment.name}'s params")


def keep_in_conf(root: Path, name: str) -> None:
    """An applied experiment's params.yaml made conf/'s composition (the overrides that
    give it, written into conf/: as the experiment brought conf/, which DVC gives it as
    it was when queued), so the commit that keeps it passes check_params; and dvc.lock
    told of the conf/ that now composes to the same params.yaml, so that it is committed
    as is (check_params ran on the experiment's conf/, which composed to it too)."""
    from mlops_template.conf_edits import keep_params
    from mlops_template.config import PARAMS_FILE

    overrides = keep_params(
        root,
        f"{name}'s params",
        f"{name} is applied, conf/ not updated (`git checkout -- . && dvc checkout` puts the "
        "commit's back)",
    )
    recorded = subprocess.run(
        ["dvc", "commit", "--force", "--quiet", "check_params"], check=False
    ).returncode
    if recorded:
        print("note: `dvc commit check_params` failed (above): run it before you commit")
    kept = f": {' '.join(overrides)}" if overrides else ""
    print(f"applied {name}, its settings kept in conf/{kept}; commit to keep it")
    params = yaml.safe_load((root / PARAMS_FILE).read_text(encoding="utf-8"))
    if (params.get("tune") or {}).get("method", "none") != "none":
        # Else every later repro searches again, over any -S of the model's settings.
        print(
            f"note: {name} searched the model's settings (tune={params['tune']['method']}), "
            "and conf/ now does on every `dvc repro`: `python -m mlops_template tune keep` "
            "writes the settings it found into conf/ and the search off"
        )


def tuned_overrides(path: str | Path) -> list[str]:
    """reports/tuned_params.yaml as Hydra overrides (key=value)."""
    try:
        settings = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise PipelineError(f"{path}: {err.strerror}; run train with tune=optuna first") from None
    except yaml.YAMLError as err:
        raise PipelineError(f"{path}: not YAML ({str(err).splitlines()[0]})") from None
    if not settings:
        raise PipelineError(
            f"{path} holds no settings to keep: no search ran (run train with tune=optuna), "
            "or none found better settings than conf/'s own (its header says which)"
        )
    # As train writes it: one setting per line, `model.<...>.<name>: <value>`.
    if not isinstance(settings, dict) or not all(
        v is None or isinstance(v, str | int | float) for v in settings.values()
    ):
        raise PipelineError(
            f"{path}: not the settings a search writes (key: value, one per line, each "
            "value a number, text, true/false or null); run train with tune=optuna again"
        )
    # ++: a LightGBM or XGBoost setting searched may not be in its params yet.
    return [f"++{key}={json.dumps(value)}" for key, value in settings.items()]


def keep_tuned(root: Path, path: str | Path) -> list[str]:
    """`tune keep`: the search's settings written into conf/, with `tune=none` where
    conf/ chooses a search (as an applied tuning experiment leaves it): kept settings
    searched again would be lost. The overrides written."""
    from mlops_template.compose import group_option_file
    from mlops_template.conf_edits import params_command

    overrides = tuned_overrides(path)
    check_same_search(root)
    if group_option_file(root, "tune").stem != "none":
        overrides.append("tune=none")
    params_command(root, "set", overrides)
    return overrides


# What a search's result depends on besides its seed and budget: the rows (how they are
# read, checked, split and encoded), the learner, the folds and the metric.
SEARCHED_ON = ("data", "read", "validate", "split", "features", "model", "train")


def check_same_search(root: Path) -> None:
    """The search ran with params.yaml's settings: keeping its result in conf/ makes sense
    only where conf/ composes to the same ones (not after `-S model=...`, `-S data=...` or
    another gate metric: settings found for other rows or another metric)."""
    from mlops_template.compose import compose_text
    from mlops_template.core.reproduction import lookup

    ran = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    conf = yaml.safe_load(compose_text(root, []))
    if conf["model"] != ran["model"]:
        raise PipelineError(
            "params.yaml's model settings, which the search ran on, are not what conf/ "
            "composes to (an experiment's -S model=...?): set that model in conf/ first "
            "(`python -m mlops_template params set model=<name>`), then `tune keep`"
        )
    metrics = [f"gate.{task}.metric" for task in ("classification", "regression")]
    differ = [k for k in SEARCHED_ON if conf.get(k) != ran.get(k)]
    differ += [k for k in metrics if lookup(conf, k) != lookup(ran, k)]
    if differ:
        raise PipelineError(
            f"the search ran with other {', '.join(differ)} than conf/ composes to (an "
            "experiment's -S?): the settings it found are for those; keep them all with "
            "`python -m mlops_template params keep`, then `tune keep`, or search again "
            "with conf/'s"
        )
