"""What ct changes in the workspace and puts back, and its try loop, in process in a
temporary copy of conf/ with a real DVC repo (the retraining itself, `dvc repro` and
the gate, is tests/e2e/test_ct.py's)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlops_template.compose import write_params
from mlops_template.config import Config
from mlops_template.core.ct_report import Try
from mlops_template.core.schema import TrainingSchema, infer_schema
from mlops_template.errors import PipelineError
from mlops_template.operate.monitoring.ct import run_tries
from mlops_template.operate.monitoring.ct_workspace import (
    Workspace,
    refuse_unaddable,
    restored_unless_promoted,
    training_rows,
)
from tests.helpers.template import example_conf, example_params_text

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dvc_folder(tmp_path_factory) -> Path:
    """A DVC repo's .dvc/ without git, made once by `dvc init` and copied for each test."""
    repo = tmp_path_factory.mktemp("dvc")
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=repo, check=True)
    return repo / ".dvc"


@pytest.fixture
def project(tmp_path, monkeypatch, dvc_folder):
    """conf/ and params.yaml as the template has them, in a DVC repo without git."""
    example_conf(tmp_path)
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    shutil.copytree(dvc_folder, tmp_path / ".dvc")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _conf_files() -> list[Path]:
    return sorted(Path("conf").rglob("*.yaml"))


def _saved_workspace() -> Workspace:
    workspace = Workspace()
    workspace.save(Path("params.yaml"), Path("dvc.lock"), Path("metrics.json"), *_conf_files())
    return workspace


def _tried(attempt: int, overrides: list[str], promoted: bool) -> Try:
    return Try(
        attempt=attempt,
        overrides=overrides,
        version=str(attempt),
        promoted=promoted,
        metric="balanced_accuracy",
        candidate=None,
        champion=None,
        failed_checks=[] if promoted else ["improvement:balanced_accuracy"],
        reasons=[],
    )


def test_restore_puts_back_every_saved_file_and_removes_what_was_added(project):
    before = {p: p.read_bytes() for p in [Path("params.yaml"), Path("dvc.lock"), *_conf_files()]}
    with restored_unless_promoted() as workspace:
        workspace.save(*before, Path("metrics.json"))  # metrics.json: not there before
        for path in before:
            path.write_text("changed by a try\n")
        Path("metrics.json").write_text("{}\n")
        added = Path("data/incoming/source/abc.parquet")
        added.parent.mkdir(parents=True)
        added.write_bytes(b"rows")
        workspace.added += [added, added.with_name("abc.parquet.dvc")]
    assert {p: p.read_bytes() for p in before} == before
    assert not Path("metrics.json").exists()
    assert not added.parent.exists()  # the source's folder, which ct made
    assert Path("data/incoming").is_dir()


def test_a_checkout_that_fails_after_the_restore_says_how_to_finish(project):
    """A CT trial: after a Ctrl-C during a try, `dvc checkout --quiet` failed with exit 255
    and no word, the outputs left the try's."""
    train = {"cmd": "true", "outs": ["model.skops"]}
    Path("dvc.yaml").write_text(yaml.safe_dump({"stages": {"train": train}}))
    out = {"path": "model.skops", "hash": "md5", "md5": "0" * 32, "size": 1}
    lock = {"schema": "2.0", "stages": {"train": {"cmd": "true", "outs": [out]}}}
    Path("dvc.lock").write_text(missing := yaml.safe_dump(lock))  # its model in no cache
    with pytest.raises(PipelineError) as failed, restored_unless_promoted() as workspace:
        workspace.save(Path("dvc.lock"))
        Path("dvc.lock").write_text("changed by a try\n")
    said = str(failed.value)
    assert said.startswith("ct put conf/, params.yaml and dvc.lock back, but `dvc checkout` fa")
    assert said.endswith("(`dvc status` then says they are up to date)")
    assert Path("dvc.lock").read_text() == missing


def test_a_promoted_try_keeps_the_workspace(project):
    with restored_unless_promoted() as workspace:
        workspace.save(Path("params.yaml"))
        Path("params.yaml").write_text("the promoted try's\n")
        workspace.keep("v2")
    assert Path("params.yaml").read_text() == "the promoted try's\n"


def test_a_stop_after_the_promotion_keeps_the_workspace_and_says_so(project, capsys):
    """Stopped after the champion moved (while the batch was scored again), ct put the
    workspace back: the registry's champion had no record of what it was trained on."""
    with pytest.raises(KeyboardInterrupt), restored_unless_promoted() as workspace:
        workspace.save(Path("params.yaml"))
        Path("params.yaml").write_text("the promoted try's\n")
        workspace.keep("v2")
        raise KeyboardInterrupt
    assert Path("params.yaml").read_text() == "the promoted try's\n"
    assert "ct stopped after v2 became champion" in capsys.readouterr().err


def test_an_error_after_the_champion_moved_keeps_the_workspace(project, capsys):
    """The gate's run failing to be written after the move (a server hiccup) put back
    the old champion's workspace, as if no try had been promoted."""
    with pytest.raises(RuntimeError), restored_unless_promoted(lambda: "v3") as workspace:
        workspace.save(Path("params.yaml"))
        Path("params.yaml").write_text("the promoted try's\n")
        raise RuntimeError("the gate run could not be logged")
    assert Path("params.yaml").read_text() == "the promoted try's\n"
    assert "ct stopped after v3 became champion" in capsys.readouterr().err


def test_an_error_in_a_try_restores_the_workspace(project):
    before = Path("params.yaml").read_bytes()
    with pytest.raises(RuntimeError), restored_unless_promoted() as workspace:
        workspace.save(Path("params.yaml"))
        Path("params.yaml").write_text("half-written\n")
        raise RuntimeError("dvc repro failed")
    assert Path("params.yaml").read_bytes() == before


def _params() -> dict:
    return yaml.safe_load(Path("params.yaml").read_text())


def test_each_try_starts_from_conf_as_it_was_and_the_loop_stops_at_a_promotion(project):
    seed = _params()["split"]["seed"]
    seen: list[tuple[int, str, int]] = []

    def retrain(attempt: int, overrides: list[str]) -> Try:
        params = _params()
        seen.append((attempt, params["model"]["type"], params["split"]["seed"]))
        return _tried(attempt, overrides, promoted=attempt == 4)

    tries = [
        ["model=linear", f"split.seed={seed + 1}"],
        ["model=random_forest"],  # the seed is conf/'s again
        ["model=linear", f"split.seed={seed + 1}"],  # try 1's config: skipped
        ["model=linear"],
        ["model=random_forest", "model.n_estimators=3"],  # not run: try 4 was promoted
    ]
    done = run_tries(tries, _saved_workspace(), retrain)
    assert seen == [(1, "linear", seed + 1), (2, "random_forest", seed), (4, "linear", seed)]
    assert [t.attempt for t in done] == [1, 2, 4] and done[-1].promoted


def test_no_promotion_runs_every_distinct_try(project):
    conf = {p: p.read_bytes() for p in _conf_files()}
    workspace = _saved_workspace()
    done = run_tries([["model=linear"], []], workspace, lambda n, o: _tried(n, o, False))
    assert [t.attempt for t in done] == [1, 2] and not any(t.promoted for t in done)
    workspace.reset_conf()
    assert {p: p.read_bytes() for p in _conf_files()} == conf
    assert write_params(Path.cwd(), []).read_text() == example_params_text()


def _keyed(project: Path) -> tuple[Config, TrainingSchema]:
    """A config whose split key is customer_id, the training data it keys, and a schema."""
    params = yaml.safe_load(example_params_text())
    params["split"]["key"] = "customer_id"
    cfg = Config.model_validate(params)
    raw = pd.DataFrame({"customer_id": [101, 102], "x": [1.0, 2.0], "y": [0, 1]})
    Path(cfg.paths.raw).parent.mkdir(parents=True, exist_ok=True)
    raw.to_parquet(cfg.paths.raw)
    schema = infer_schema(raw[["x"]], raw["y"], "classification")
    return cfg, schema


def test_training_rows_keep_the_split_key_typed_as_the_training_datas(project):
    cfg, schema = _keyed(project)
    Path("batch.csv").write_text("customer_id,x,y\n201,0.5,1\n202,1.5,\n203,2.5,0\n")
    rows = training_rows(Path("batch.csv"), schema, cfg)
    assert list(rows.columns) == ["customer_id", "x", "y"]
    assert rows["customer_id"].tolist() == [201, 203]  # the labelled rows only
    assert rows["customer_id"].dtype == "int64"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("x,y\n0.5,1\n", "no column 'customer_id' (split.key)"),
        ("customer_id,x,y\n,0.5,1\n201,1.5,0\n", "'customer_id' (split.key) is missing in 1"),
        ("customer_id,x,y\nC-1,0.5,1\n", "does not hold int64 values"),
    ],
)
def test_a_batch_whose_rows_the_split_cannot_place_is_refused(project, text, said):
    cfg, schema = _keyed(project)
    Path("batch.csv").write_text(text)
    with pytest.raises(PipelineError, match=re.escape(said)):
        training_rows(Path("batch.csv"), schema, cfg)


def test_ct_refuses_before_scoring_only_labelled_rows_it_could_not_add(project):
    """ct's check before the champion scores a batch: a batch without labels (no target
    column at all) has nothing to add; labelled rows without the split key refuse it.
    It reads no training data (a workspace without data/raw still monitors)."""
    cfg, schema = _keyed(project)
    Path(cfg.paths.raw).unlink()
    Path("unlabelled.csv").write_text("x\n0.5\n")
    refuse_unaddable(Path("unlabelled.csv"), schema, cfg)
    Path("keyless.csv").write_text("x,y\n0.5,1\n")
    with pytest.raises(PipelineError, match=r"no column 'customer_id' \(split\.key\)"):
        refuse_unaddable(Path("keyless.csv"), schema, cfg)


def test_ct_refuses_labels_of_a_class_never_trained_on_before_scoring(project):
    """Checked before the champion scores and logs the batch: refused after, its rows
    stayed in the inference log, and the corrected file (a new md5) was logged again."""
    cfg, schema = _keyed(project)
    Path("new_class.csv").write_text("customer_id,x,y\n201,0.5,1\n202,1.5,2\n")
    with pytest.raises(PipelineError) as refused:
        refuse_unaddable(Path("new_class.csv"), schema, cfg)
    assert str(refused.value).startswith(
        "new_class.csv: labels the model was never trained on in 'y': [2]"
    )


def test_rows_an_earlier_ct_added_are_not_added_again(project, capsys):
    """ct --log's windows overlap from one run to the next: the rows of the earlier
    windows are in the training data already and must not count twice."""
    cfg, schema = _keyed(project)
    Path("monday.csv").write_text("customer_id,x,y\n201,0.5,1\n202,1.5,0\n")
    Path("tuesday.csv").write_text("customer_id,x,y\n201,0.5,1\n202,1.5,0\n203,2.5,0\n")
    workspace = Workspace()
    assert workspace.add_batch(cfg, Path("monday.csv"), schema) == 2
    assert workspace.add_batch(cfg, Path("tuesday.csv"), schema) == 1
    assert "2 of tuesday.csv's 3 labelled rows are in the training data already" in (
        capsys.readouterr().err
    )
    added = sorted(Path(cfg.paths.incoming).rglob("*.parquet"))
    rows = pd.concat(pd.read_parquet(path) for path in added)
    assert sorted(rows["customer_id"]) == [201, 202, 203]  # each once
    assert all(path.with_name(path.name + ".dvc").exists() for path in added)
    # Nothing new at all: nothing added, and ct alerts rather than retrain on the same rows.
    Path("again.csv").write_text("customer_id,x,y\n203,2.5,0\n")
    assert workspace.add_batch(cfg, Path("again.csv"), schema) == 0
    assert len(list(Path(cfg.paths.incoming).rglob("*.parquet"))) == 2


def test_rows_the_collected_training_data_holds_are_left_out_with_a_key(project, capsys):
    """A batch cut from the data holds training rows: with a split key, those (the same
    key, features and label) are said and left out; a known key with a new label is
    a new row."""
    cfg, schema = _keyed(project)  # data/raw holds 101 (x 1.0, y 0) and 102 (x 2.0, y 1)
    Path("cut.csv").write_text("customer_id,x,y\n101,1.0,0\n102,2.0,0\n301,3.0,1\n")
    assert Workspace().add_batch(cfg, Path("cut.csv"), schema) == 2
    said = capsys.readouterr().err
    assert "1 of cut.csv's 3 labelled rows are in the training data already: left out" in said
    (added,) = Path(cfg.paths.incoming).rglob("*.parquet")
    assert sorted(pd.read_parquet(added)["customer_id"]) == [102, 301]


def test_rows_equal_to_training_rows_without_a_key_are_said_and_added(project, capsys):
    cfg, schema = _keyed(project)
    cfg = cfg.model_copy(update={"split": cfg.split.model_copy(update={"key": None})})
    Path("cut.csv").write_text("x,y\n1.0,0\n2.0,1\n3.0,1\n")
    assert Workspace().add_batch(cfg, Path("cut.csv"), schema) == 3
    assert (
        "2 of cut.csv's 3 labelled rows equal training rows in every column; added all the "
        "same (without split.key, an equal row may be a new observation)"
    ) in capsys.readouterr().err
