"""The release steps that move aliases and tags (promote's last step, rollback, retire), in
process on a temporary store: what they change, what they refuse, and the history they
leave. What the gate decides is in test_gate.py and test_gate_rows.py."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops_template import cli
from mlops_template.config import Config
from mlops_template.core.gate_checks import Decision, NoChampion
from mlops_template.errors import PipelineError
from mlops_template.io import registry
from mlops_template.release import model_card, promote, retire, rollback
from mlops_template.release.promotion_report import PromotionReport
from tests.helpers.mlflow_store import add_versions, empty_store, model_files, use_store


@pytest.fixture(scope="module")
def empty(tmp_path_factory):
    return empty_store(tmp_path_factory)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A model's files, for versions rollback crowns: it loads them first."""
    return model_files(tmp_path_factory)


@pytest.fixture
def store(tmp_path, empty, monkeypatch):
    """A client of a fresh store; the test works in tmp_path."""
    return use_store(tmp_path, empty, monkeypatch)


@pytest.fixture
def cfg(params, store):
    """The project's config, and its params.yaml in the working folder (for the CLI)."""
    Path("params.yaml").write_text(yaml.safe_dump(params))
    return Config.model_validate(params)


def aliases(client, name: str) -> dict[str, str]:
    return {k: str(v) for k, v in client.get_registered_model(name).aliases.items()}


def history(client, name: str) -> list[tuple[str, str, str]]:
    return [(e["action"], e["version"], e["previous"]) for e in registry.events(client, name)]


def champion_at(client, name: str, version: str, *, gated: bool = True) -> None:
    """`version` made champion as promote does, with its event run (and its gate's tag;
    without it, as by hand)."""
    experiment = client.create_experiment(f"promote-{version}-{len(history(client, name))}")
    if gated:
        client.set_model_version_tag(name, version, "gate.decision", "promoted")
    registry.move_champion(client, experiment, name, version, action="promote", extra={})


# rollback


def test_rollback_follows_the_recorded_history(cfg, store, files):
    name = cfg.registry.model_name
    add_versions(store, name, 3, files)
    for version in ("1", "2", "3"):
        champion_at(store, name, version)
    assert rollback.rollback(cfg, None) == 0
    assert aliases(store, name)["champion"] == "2"
    assert rollback.rollback(cfg, None) == 0  # back past the rollback, not to v3 again
    assert aliases(store, name)["champion"] == "1"
    assert history(store, name) == [
        ("promote", "1", ""),
        ("promote", "2", "1"),
        ("promote", "3", "2"),
        ("rollback", "2", "3"),
        ("rollback", "1", "2"),
    ]
    with pytest.raises(
        PipelineError,
        match=r"no earlier champion of .*\(champion is v1; versions rolled back from are skipped\)",
    ):
        rollback.rollback(cfg, None)
    assert rollback.rollback(cfg, "3") == 0
    assert aliases(store, name)["champion"] == "3"


def test_rollback_goes_only_to_a_version_the_gate_crowned(cfg, store, files, capfd):
    """Event runs added by hand that keep the history unbroken (v2, never champion, then
    the champion again) had rollback crown v2. The history still says v2; its registry
    tags say the gate never crowned it."""
    name = cfg.registry.model_name
    add_versions(store, name, 4, files)
    for version in ("1", "3", "4"):
        champion_at(store, name, version)
    champion_at(store, name, "2", gated=False)
    champion_at(store, name, "4", gated=False)
    assert [e[1] for e in history(store, name)] == ["1", "3", "4", "2", "4"]
    assert cli.main(["rollback"]) == 2
    said = capfd.readouterr().err
    assert (
        "v2 of mlops-template, the champion before v4 in the promotion history, was never " in said
    )
    assert "`rollback --to 2` crowns it if that is right" in said
    assert aliases(store, name) == {"champion": "4"} and len(history(store, name)) == 5


@pytest.mark.parametrize(
    ("to", "message"),
    [
        ("9", "has no version 9"),
        ("2", "v2 is already the champion"),
        ("02", "v2 is already the champion"),  # not a move to "v02", recorded so
        ("v2", "v2 is already the champion"),
        ("two", r"rollback --to two: not a version number \(as in --to 3\)"),
    ],
)
def test_rollback_refuses_a_target_it_cannot_use(cfg, store, to, message):
    name = cfg.registry.model_name
    add_versions(store, name, 2)
    champion_at(store, name, "2")
    with pytest.raises(PipelineError, match=message):
        rollback.rollback(cfg, to)
    assert aliases(store, name) == {"champion": "2"}
    assert len(history(store, name)) == 1


def test_rollback_to_a_version_the_gate_refused_needs_force(cfg, store, files, capfd):
    name = cfg.registry.model_name
    add_versions(store, name, 1)
    champion_at(store, name, "1")
    failed = json.dumps({"check": "improvement:f1_macro", "passed": False})
    add_versions(
        store,
        name,
        1,
        files,
        **{"gate.decision": "refused", "gate.improvement:f1_macro": failed},
    )
    assert cli.main(["rollback", "--to", "2"]) == 2
    said = capfd.readouterr().err
    assert "v2 of mlops-template was refused by the gate (failed: improvement:f1_macro)" in said
    assert "`rollback --to 2 --force` crowns it anyway" in said
    assert aliases(store, name) == {"champion": "1"}
    assert cli.main(["rollback", "--to", "2", "--force"]) == 0
    said = capfd.readouterr().err
    assert "crowned with --force" in said
    # A running server keeps v1: a trial found it logging v1 as "champion" for minutes.
    assert f"note: {registry.RUNNING_SERVERS}" in said
    assert aliases(store, name) == {"champion": "2"}
    (event,) = [e for e in registry.events(store, name) if e["action"] == "rollback"]
    run = store.get_run(event["run_id"])
    assert run.data.tags["registry.forced"] == "failed: improvement:f1_macro"


def test_rollback_refuses_a_version_it_cannot_load(cfg, store, capfd):
    """Its files gone from the artifact store: crowned, predict and serve failed on it."""
    name = cfg.registry.model_name
    add_versions(store, name, 2)  # no model files
    champion_at(store, name, "2")
    assert cli.main(["rollback", "--to", "1", "--force"]) == 2
    assert "error: mlops-template v1: " in capfd.readouterr().err
    assert aliases(store, name) == {"champion": "2"} and len(history(store, name)) == 1


def test_rollback_without_a_champion_exits_2(cfg, store, capfd):
    add_versions(store, cfg.registry.model_name, 1)
    assert cli.main(["rollback"]) == 2
    assert "has no champion to roll back" in capfd.readouterr().err


def test_an_unfinished_move_is_not_history(cfg, store):
    """A move interrupted before the alias moved leaves a run that is not FINISHED: the
    history (and so rollback) ignores it."""
    name = cfg.registry.model_name
    add_versions(store, name, 2)
    champion_at(store, name, "1")
    experiment = store.create_experiment("interrupted")
    store.create_run(
        experiment,
        tags={registry.ACTION_TAG: "promote", registry.MODEL_TAG: name, "registry.version": "2"},
    )
    assert history(store, name) == [("promote", "1", "")]


def test_a_stop_as_the_alias_moves_waits_for_its_event(cfg, store, monkeypatch):
    """Ctrl-C or SIGTERM right after the alias moved (a sweep hit it about 1 try in 10
    near promote's end) stops the command once the event is FINISHED too: a champion the
    history did not know broke `rollback` and let a rolled-back version back in."""
    name = cfg.registry.model_name
    add_versions(store, name, 2)
    champion_at(store, name, "1")
    move = store.set_registered_model_alias

    def moved_then_stopped(*args):
        move(*args)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(store, "set_registered_model_alias", moved_then_stopped)
    # Python's own Ctrl-C handler, whatever an earlier test of this worker left.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            champion_at(store, name, "2")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert aliases(store, name)["champion"] == "2"
    assert history(store, name) == [("promote", "1", ""), ("promote", "2", "1")]


def test_a_held_registry_lock_is_said_and_given_up_on(store, monkeypatch, capsys):
    """A promote stopped with Ctrl-Z held the lock: rollback and retire waited for ever,
    without a word."""
    from mlops_template.io.store import tracking_uri

    lock = tracking_uri().removeprefix("sqlite:///") + ".lock"
    hold = f"import fcntl, sys\nh = open({lock!r}, 'w')\nfcntl.flock(h, fcntl.LOCK_EX)\n"
    hold += "print('locked', flush=True)\nsys.stdin.read()\n"
    holder = subprocess.Popen(
        [sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    monkeypatch.setattr(registry, "LOCK_WAIT", 0.5)
    try:
        assert holder.stdout.readline().strip() == "locked"
        gave_up = r"kept the registry locked .* for over 0 s"
        with pytest.raises(PipelineError, match=gave_up), registry.registry_lock(store, "m"):
            pytest.fail("the lock was taken beside its holder")
        assert "is changing the registry" in capsys.readouterr().err
    finally:
        holder.communicate("")
    with registry.registry_lock(store, "m"):  # free once the holder has ended
        pass


# retire


def test_retire_archives_old_versions_without_an_alias(params, store, capsys):
    params["registry"]["keep_versions"] = 2  # v5 and v4 kept as the newest, v2 by its alias
    cfg = Config.model_validate(params)
    name = cfg.registry.model_name
    add_versions(store, name, 5)
    champion_at(store, name, "2")
    store.set_registered_model_alias(name, registry.CHALLENGER, "5")

    Path("params.yaml").write_text(yaml.safe_dump(params))  # the command reads it
    assert cli.main(["retire", "--dry-run"]) == 0
    said = capsys.readouterr()
    dry = json.loads(said.out)
    assert dry["archived"] == ["3", "1"] and dry["dry_run"] is True
    assert said.err.startswith(f"retire: would archive v3, v1 of {name}; kept v5, v4, v2 (")
    assert not any(v.tags.get("archived") for v in store.search_model_versions())

    assert retire.retire(cfg, dry_run=False, delete=False) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["archived"] == ["3", "1"] and done["kept"] == ["5", "4", "2"]
    archived = {str(v.version): v.tags for v in store.search_model_versions()}
    assert {v for v, tags in archived.items() if tags.get("archived") == "true"} == {"1", "3"}
    assert archived["1"]["archived_by"] == registry.actor()

    assert retire.retire(cfg, dry_run=False, delete=False) == 0  # nothing new to archive
    said = capsys.readouterr()
    assert json.loads(said.out)["archived"] == []
    assert "archived no version" in said.err and "kept v5, v4, v2 (" in said.err
    assert said.err.rstrip().endswith("; archived before: v3, v1")

    assert cli.main(["retire", "--delete"]) == 0
    said = capsys.readouterr()
    assert json.loads(said.out)["deleted"] == ["3", "1"] and "retire: deleted v3, v1" in said.err
    left = sorted(str(v.version) for v in store.search_model_versions(f"name = '{name}'"))
    assert left == ["2", "4", "5"]
    assert aliases(store, name) == {"champion": "2", "challenger": "5"}


def test_retire_keeps_the_version_rollback_returns_to(params, store, capsys):
    """A CT trial: `retire --delete` deleted the previous champion (old, no alias), and
    `rollback` then failed on a version the registry no longer had."""
    params["registry"]["keep_versions"] = 1
    cfg = Config.model_validate(params)
    name = cfg.registry.model_name
    add_versions(store, name, 4)
    champion_at(store, name, "1")
    champion_at(store, name, "3")  # rollback goes back to v1
    assert retire.retire(cfg, dry_run=False, delete=True) == 0
    said = capsys.readouterr()
    assert json.loads(said.out)["deleted"] == ["2"]
    assert "kept v4, v3, v1 (the newest 1, any with an alias, and v1, which rollback" in said.err
    assert sorted(str(v.version) for v in store.search_model_versions(f"name = '{name}'")) == [
        "1", "3", "4",
    ]  # fmt: skip


# promote: the last step, after the gate decided


def _decided(cfg: Config, registered: str, champion: str | None) -> PromotionReport:
    """A promotion report as evaluate_gate leaves it: the gate passed the candidate
    (already registered as `registered`) against `champion`."""
    return PromotionReport(
        model_name=cfg.registry.model_name,
        task="classification",
        candidate={"model_uri": "unused: the version exists", "model_md5": "m5"},
        champion_version=champion,
        registered_version=registered,
        evaluation_data={},
        gate={"metric": "balanced_accuracy"},
        decision=Decision(
            promote=True, checks=[NoChampion(check="champion", passed=True, detail="none")]
        ),
        candidate_metrics={"accuracy": 0.9},
    )


def test_promote_moves_the_champion_it_was_compared_with(cfg, store):
    name = cfg.registry.model_name
    add_versions(store, name, 2)
    champion_at(store, name, "1")
    assert promote._register(cfg, store, name, _decided(cfg, "2", "1")) == "2"
    assert aliases(store, name) == {"champion": "2", "challenger": "2"}
    assert history(store, name)[-1] == ("promote", "2", "1")
    tags = store.get_model_version(name, "2").tags
    assert tags["gate.decision"] == "promoted" and tags["lineage.model_md5"] == "m5"


@pytest.mark.parametrize("decided_against", [None, "1"])
def test_promote_refuses_when_the_champion_changed_while_deciding(cfg, store, decided_against):
    """Decided against no champion or v1, but another promotion made v3 champion in the
    meantime: nothing is promoted (the candidate stays challenger)."""
    name = cfg.registry.model_name
    add_versions(store, name, 3)
    champion_at(store, name, "3")
    with pytest.raises(PipelineError, match=r"champion of .* changed while this promotion"):
        promote._register(cfg, store, name, _decided(cfg, "2", decided_against))
    assert aliases(store, name) == {"champion": "3", "challenger": "2"}
    assert [e[1] for e in history(store, name)] == ["3"]
    tags = store.get_model_version(name, "2").tags
    assert tags["promotion.not_moved"] == "the champion changed while this promotion was deciding"


def test_a_stop_after_the_move_waits_for_the_gate_run_and_the_card(cfg, store, monkeypatch):
    """Stopped as the champion moved, promote left it without its gate run and model
    card, and `promote` again said it was champion already, filling in neither."""
    name = cfg.registry.model_name
    add_versions(store, name, 2)
    champion_at(store, name, "1")
    move = store.set_registered_model_alias

    def moved_then_stopped(model, alias, version):
        move(model, alias, version)
        if alias == registry.CHAMPION:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(store, "set_registered_model_alias", moved_then_stopped)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            promote._register(cfg, store, name, _decided(cfg, "2", "1"))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert aliases(store, name)["champion"] == "2"
    assert (model_card.REPORT_DIR / "v2.md").is_file()
    gate_runs = store.search_runs(
        [e.experiment_id for e in store.search_experiments()], "tags.`registry.model_version` = '2'"
    )
    assert [r.data.tags["gate.decision"] for r in gate_runs] == ["promoted"]


def test_the_promotion_report_is_written_and_says_why(cfg, store, capsys):
    report = _decided(cfg, "2", None)
    assert promote.report_promotion(report) == 0
    written = json.loads(Path(promote.REPORT).read_text())
    assert written["decision"]["promote"] is True
    said = capsys.readouterr().err
    assert "promoted: " in said and registry.RUNNING_SERVERS not in said  # no champion before
    assert promote.report_promotion(_decided(cfg, "3", "2")) == 0
    assert f"is champion ({registry.RUNNING_SERVERS})" in capsys.readouterr().err


@pytest.mark.parametrize("locked", ["m5", "another", None])
def test_a_candidate_no_commit_records_is_said(cfg, store, capsys, locked):
    """Trained, then committed (the usual order, so its run saw uncommitted changes):
    the commit's dvc.lock records the model and nothing is said; a commit recording
    another model, or no dvc.lock committed, is said."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run(["git", "init", "-q"], check=True)
    if locked is not None:
        outs = [{"path": "models/model.skops", "md5": locked}]
        Path("dvc.lock").write_text(yaml.safe_dump({"stages": {"train": {"outs": outs}}}))
        subprocess.run(["git", "add", "dvc.lock"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    report = _decided(cfg, "2", None)
    lineage = {"git_dirty": "true", "promoted_from_commit": head.stdout.strip()}
    report = report.but(candidate={**report.candidate, **lineage})
    assert promote.report_promotion(report) == 0
    said = capsys.readouterr().err
    assert ("does not record this model in dvc.lock" in said) == (locked != "m5"), said


def test_a_champion_that_cannot_be_compared_leaves_the_candidate_challenger(cfg, store, capsys):
    """A column the champion reads is gone from the data: refused, and registered, so that
    the refusal's `rollback --to VERSION --force` can crown it; promote stopped with an
    error and registered nothing, and the version its message told to roll back to did
    not exist."""
    from mlops_template.core.gate import not_comparable

    name = cfg.registry.model_name
    add_versions(store, name, 2)
    champion_at(store, name, "1")
    detail = "champion v1 cannot score the evaluation data (\"['c'] not in index\")"
    report = dataclasses.replace(_decided(cfg, "2", "1"), decision=not_comparable(detail))
    assert promote._register(cfg, store, name, report) == "2"
    assert aliases(store, name) == {"champion": "1", "challenger": "2"}
    assert store.get_model_version(name, "2").tags["gate.decision"] == "refused"
    assert promote.report_promotion(report.but(registered_version="2")) == promote.GATE_REFUSED
    said = capsys.readouterr().err
    assert "refused: mlops-template v2 is challenger only (failed: comparable)" in said
    assert f"{detail}; the two cannot be compared on the same rows" in said
    assert "`rollback --to VERSION --force` with its version crowns it" in said


def test_the_actor_is_ci_then_the_servers_account_then_the_local_user(monkeypatch):
    """A rollback on the team server was recorded as by the machine's user ('root'),
    not by the account that signed in."""
    import getpass

    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert registry.actor() == getpass.getuser()
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ci")
    assert registry.actor() == getpass.getuser()  # a leftover, on a local store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert registry.actor() == "ci"
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    assert registry.actor() == "octocat"


def test_the_candidate_is_what_dvc_lock_records_every_file_the_gate_reads(cfg, store):
    """The sweep changed the training rows and the schema after `dvc repro`: promote read
    them as they were (only the model and the test rows were checked)."""
    import hashlib

    from mlops_template.release.candidate import find_candidate

    paths = [cfg.paths.model, cfg.paths.test, cfg.paths.train, cfg.paths.schema_]
    outs = []
    for path in paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(path.encode())
        outs.append({"path": path, "md5": hashlib.md5(path.encode()).hexdigest()})
    Path("dvc.lock").write_text(yaml.safe_dump({"stages": {"all": {"outs": outs}}}))
    for path in paths:
        Path(path).write_bytes(b"changed")
        with pytest.raises(PipelineError, match=rf"^{path} does not match dvc.lock; run `dvc"):
            find_candidate(cfg, store)
        Path(path).write_bytes(path.encode())
    with pytest.raises(PipelineError, match=r"no MLflow run at this tracking store logged the"):
        find_candidate(cfg, store)  # every file as recorded: on to the store
