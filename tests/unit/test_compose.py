from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mlops_template.compose import compose_text, refuse_stale, stale_diff, write_params
from mlops_template.conf_edits import (
    _write_overrides,
    apply_to_conf,
    keep_params,
    overrides_to,
    params_command,
)
from mlops_template.config import flatten, load_config
from mlops_template.errors import PipelineError
from tests.helpers.template import example_conf

from .conftest import REPO

# Overrides a group option needs to compose: the file data sources leave path and target unset.
NEEDS = {
    "data/csv": ["data.path=x.csv", "data.target=y"],
    "data/parquet": ["data.path=x.parquet", "data.target=y"],
    "data/delta": ["data.path=table", "data.target=y"],
}
OPTIONS = sorted(
    f"{p.parent.name}/{p.stem}" for p in (REPO / "conf").glob("*/*.yaml") if p.is_file()
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return example_conf(tmp_path)


def test_fresh_params_are_not_stale(root):
    assert stale_diff(root) == ""


def test_edited_conf_shows_in_diff(root):
    conf = root / "conf/split/default.yaml"
    conf.write_text(conf.read_text().replace("test_size: 0.2", "test_size: 0.3"))
    diff = stale_diff(root)
    assert "-  test_size: 0.2" in diff
    assert "+  test_size: 0.3" in diff


def test_missing_params_is_stale(root):
    (root / "params.yaml").unlink()
    assert "+paths:" in stale_diff(root)


def test_write_params_applies_override(root):
    path = write_params(root, ["model=random_forest"])
    assert path == root / "params.yaml"
    assert yaml.safe_load(path.read_text())["model"]["type"] == "random_forest"
    assert load_config(path).model.type == "random_forest"
    assert stale_diff(root) != ""


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=random_forest", "model.n_estimators=-1"], "model.n_estimators"),
        (["model=nope"], "model/nope"),
        (["data=csv"], "no value for data.path"),
        (["split.nope=1"], "split.nope"),
    ],
)
def test_bad_override_leaves_params_alone(root, overrides, message):
    before = (root / "params.yaml").read_bytes()
    with pytest.raises(PipelineError, match=message):
        write_params(root, overrides)
    assert (root / "params.yaml").read_bytes() == before
    assert sorted(p.name for p in root.iterdir()) == ["conf", "params.yaml"]


def test_missing_conf_folder(tmp_path):
    with pytest.raises(PipelineError, match="config folder not found"):
        compose_text(tmp_path, [])


def test_options_found():
    assert {"data/csv", "model/linear", "split/default"} <= set(OPTIONS)


@pytest.mark.parametrize("option", OPTIONS)
def test_every_group_option_composes(root, option):
    group, name = option.split("/")
    text = compose_text(root, [f"{group}={name}", *NEEDS.get(option, [])])
    composed = yaml.safe_load(text)[group]
    # Every literal value of the option file reaches the composition unchanged: leaf by
    # leaf, since a mapping may give some keys only (`tune keep` writes a candidate's
    # tuned values, its defaults entry the rest).
    option_file = yaml.safe_load((root / "conf" / group / f"{name}.yaml").read_text())
    option_file.pop("defaults", None)
    literal = {k: v for k, v in flatten(option_file).items() if v != "???" and "${" not in str(v)}
    assert literal
    assert {k: flatten(composed).get(k, "absent") for k in literal} == literal


def test_overrides_written_into_conf_compose_as_the_overrides_do(root):
    overrides = ["model=random_forest", "model.n_estimators=50", "split.seed=7"]
    expected = compose_text(root, overrides)
    comments = (root / "conf" / "split" / "default.yaml").read_text().count("#")
    apply_to_conf(root, overrides)
    assert compose_text(root, []) == expected
    assert (root / "conf" / "split" / "default.yaml").read_text().count("#") == comments
    with pytest.raises(PipelineError, match=r"no config group 'nope'"):
        apply_to_conf(root, ["nope.x=1"])


def test_lists_written_into_conf_keep_its_style_and_the_next_keys_comment(root):
    overrides = ["ct.tries=[['model=random_forest','model.n_estimators=5']]"]
    expected = compose_text(root, overrides)
    apply_to_conf(root, overrides)
    assert compose_text(root, []) == expected
    tries = (root / "conf" / "ct" / "default.yaml").read_text()
    assert "\ntries:\n  - [model=random_forest, model.n_estimators=5]\n# ct.json " in tries
    assert "current config" not in tries  # the replaced items' comments go with them
    # A block list of scalars keeps the next key's comment on its last item.
    predict = root / "conf" / "predict" / "default.yaml"
    block = "passthrough_columns:\n  # the first\n  - a\n  - b  # about b\n"
    predict.write_text(predict.read_text().replace("passthrough_columns: []\n", block))
    apply_to_conf(root, ["predict.passthrough_columns=[u,v]"])
    text = predict.read_text()
    assert "\npassthrough_columns:\n  - u\n  - v\n# Columns the model was not trained" in text
    assert "the first" not in text and "about b" not in text
    apply_to_conf(root, ["predict.passthrough_columns=[]"])
    assert "\npassthrough_columns: []\n# Columns the model was not trained" in predict.read_text()
    # The last key, its last item's comment the file's last line, without a newline (a
    # key of no setting: written as apply_to_conf writes, without its check).
    with predict.open("a") as end:
        end.write("later:\n  - a  # about a")
    _write_overrides(root, ["++predict.later=[b]"])
    assert predict.read_text().endswith("\nlater:\n  - b\n")


def test_text_that_yaml_reads_otherwise_is_written_quoted(root):
    """`No`, `on` or `12:30` written bare, Hydra's YAML read back false, true or 750:
    `params set` left a conf/ that no command could compose again."""
    overrides = ["registry.card.owner=No", "split.key='12:30'", "monitor.report_dir=on"]
    expected = compose_text(root, overrides)
    apply_to_conf(root, overrides)
    assert compose_text(root, []) == expected == (root / "params.yaml").read_text()
    assert "owner: 'No'" in (root / "conf/registry/default.yaml").read_text()


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        # A package override: `+model@model.candidates.extra_trees=extra_trees` changed
        # conf/config.yaml's model to extra_trees, exit 0.
        (["+model@model.candidates.extra_trees=extra_trees"], "model.candidates"),
        # A candidate the option's defaults list adds: not a key of its file.
        (["~model.candidates.linear"], "model.candidates.linear"),
    ],
)
def test_an_override_conf_cannot_hold_as_given_is_refused_and_nothing_written(
    root, overrides, said
):
    before = {p: p.read_bytes() for p in root.rglob("*.yaml")}
    with pytest.raises(PipelineError) as refused:
        apply_to_conf(root, overrides)
    message = str(refused.value)
    assert f"{overrides[0]} cannot be written into conf/ as it is" in message
    assert said in message and "nothing in conf/ was changed" in message
    # Where such an entry goes, as docs/experiments.md says the refusal says.
    assert "is an entry of a defaults list" in message and "conf/model/auto.yaml" in message
    assert {p: p.read_bytes() for p in root.rglob("*.yaml")} == before  # params.yaml too


def test_an_override_hydras_grammar_refuses_is_named_and_nothing_written(root):
    before = {p: p.read_bytes() for p in root.rglob("*.yaml")}
    with pytest.raises(
        PipelineError, match=r"cannot read the overrides .*owner=Zoë.*\"key='Zoë'\""
    ):
        apply_to_conf(root, ["registry.card.owner=Zoë"])  # a traceback, exit 1, before
    assert {p: p.read_bytes() for p in root.rglob("*.yaml")} == before
    apply_to_conf(root, ["registry.card.owner='Zoë'"])  # as the message says
    assert yaml.safe_load(compose_text(root, []))["registry"]["card"]["owner"] == "Zoë"


def test_a_merge_conflict_left_in_conf_is_named_with_its_line(root):
    """As `copier update` leaves one: every command raised YAML's parser traceback."""
    split = root / "conf/split/default.yaml"
    lines = split.read_text().splitlines(keepends=True)
    conflicted = [*lines[:3], "<<<<<<< before updating\n", "test_size: 0.3\n", "=======\n"]
    split.write_text("".join([*conflicted, *lines[3:], ">>>>>>> after updating\n"]))
    said = r"conf/split/default\.yaml, line 4: an unresolved merge conflict"
    with pytest.raises(PipelineError, match=said):
        compose_text(root, [])
    with pytest.raises(PipelineError, match=said):
        apply_to_conf(root, ["split.seed=3"])
    split.write_text("".join(lines) + "bad: [1\n")
    with pytest.raises(PipelineError, match=r"conf/split/default\.yaml, line \d+: not YAML"):
        stale_diff(root)


def test_a_key_removed_by_an_override_goes_from_its_file(root):
    expected = compose_text(root, ["~registry.card.owner"])
    apply_to_conf(root, ["~registry.card.owner"])
    assert compose_text(root, []) == expected
    assert "owner:" not in (root / "conf/registry/default.yaml").read_text()


def test_a_removed_key_leaves_the_next_keys_comment_and_folded_text_keeps_its_breaks(root):
    """`~train.cv.folds` took the next key's four-line comment with it, and any write to
    conf/registry/default.yaml re-wrapped the card's folded text at 80 characters."""
    train = root / "conf/train/default.yaml"
    before = train.read_text()
    apply_to_conf(root, ["~train.cv.folds"])
    assert train.read_text() == before.replace("  folds: 3\n", "")
    registry = root / "conf/registry/default.yaml"
    before = registry.read_text()
    apply_to_conf(root, ["registry.keep_versions=7"])
    assert registry.read_text() == before.replace("keep_versions: 5\n", "keep_versions: 7\n")


def test_the_comment_above_the_next_key_stays_there_whatever_the_edit(root):
    """The comment lines above a key, which ruamel keeps on the value before: lost with
    the last key of a nested mapping, blank lines and a lone `#` dropped from them when
    they moved, and put inside a scalar's new block list or mapping."""
    gate = root / "conf/gate/default.yaml"
    shadow_comment = "# Live evidence (off by default)"
    before = gate.read_text()
    assert "  seed: 0\n" + shadow_comment in before
    apply_to_conf(root, ["~gate.bootstrap.seed"])  # the last key of `bootstrap`
    assert gate.read_text() == before.replace("  seed: 0\n", "")
    spaced = before.replace("  seed: 0\n", "  seed: 0\n\n").replace("\n# have", "\n#\n# have")
    for removed in ["  confidence: 0.95\n", "  seed: 0\n\n"]:
        gate.write_text(spaced)
        _write_overrides(root, [f"~gate.bootstrap.{removed.split(':')[0].strip()}"])
        assert gate.read_text() == spaced.replace(removed, "\n" if "seed" in removed else "")
    for value, written in [("[1,2]", "\n    - 1\n    - 2"), ("{a: 1}", "\n    a: 1")]:
        gate.write_text(before)
        _write_overrides(root, [f"gate.bootstrap.seed={value}"])
        assert gate.read_text() == before.replace("  seed: 0\n", f"  seed:{written}\n")
    _write_overrides(root, ["gate.bootstrap.seed=0"])  # and back, byte for byte
    assert gate.read_text() == before


def test_the_lines_below_a_files_last_key_stay_its_last_whatever_the_edit(root):
    """A team's closing note below a file's last key went with it when the key was
    removed or its value changed shape: ruamel keeps those lines on the key."""
    split = root / "conf/split/default.yaml"
    note = "# Our note: keys below are the team's.\n\n# Ask before changing them.\n"
    before = split.read_text() + "extra: 1\n" + note
    for override, line in [
        ("~split.extra", ""),
        ("split.extra=[1,2]", "extra:\n  - 1\n  - 2\n"),
        ("split.extra={a: 1}", "extra:\n  a: 1\n"),
    ]:
        split.write_text(before)
        _write_overrides(root, [override])
        assert split.read_text() == before.replace("extra: 1\n", line), override
    split.write_text(before.replace("extra: 1\n", "extra:\n  a: 1\n"))
    _write_overrides(root, ["~split.extra.a"])  # the last key of a nested mapping
    assert split.read_text() == before.replace("extra: 1\n", "extra: {}\n")


def test_a_stale_params_yaml_is_refused_unless_conf_composes_to_it(root, monkeypatch):
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    refuse_stale(root)  # fresh
    split = root / "conf/split/default.yaml"

    def edit(text: str) -> None:  # a second later than params.yaml, whatever the clock
        split.write_text(text)
        later = (root / "params.yaml").stat().st_mtime_ns + 1_000_000_000
        os.utime(split, ns=(later, later))

    edit(split.read_text() + "# only a comment\n")
    refuse_stale(root)  # newer, but composes to the same
    edit(split.read_text().replace("test_size: 0.2", "test_size: 0.3"))
    with pytest.raises(PipelineError, match=r"params.yaml is stale: conf/split/default.yaml"):
        refuse_stale(root)
    monkeypatch.setenv("DVC_EXP_NAME", "exp-1")  # dvc exp run: DVC composed it, -S and all
    refuse_stale(root)
    monkeypatch.delenv("DVC_EXP_NAME")
    write_params(root, [])
    later = split.stat().st_mtime_ns + 1_000_000_000
    os.utime(root / "params.yaml", ns=(later, later))
    refuse_stale(root)  # composed again


@pytest.mark.parametrize(
    "experiment",
    [
        ["model.candidates.linear.alpha=100"],  # a grid point of the default model
        ["model=random_forest", "model.n_estimators=7", "split.test_size=0.3"],
        # a list whose items hold spaces, and text beyond ASCII
        ["data.drop_columns=['mean radius','mean texture']", "registry.card.owner='équipe'"],
        ["split.key=yes"],  # text conf/'s YAML would read back as true: written quoted
    ],
)
def test_an_experiments_params_are_kept_in_conf(root, experiment, capsys, monkeypatch):
    """exp best --apply, and `params keep` after `dvc exp apply`: params.yaml as `dvc exp
    run -S` composed it becomes conf/'s own composition, the group chosen in
    conf/config.yaml and the values in its option."""
    monkeypatch.chdir(root)  # the workspace lock is the project's, not this checkout's
    applied = compose_text(root, experiment)
    (root / "params.yaml").write_text(applied)
    assert params_command(root, "keep", []) == 0
    assert compose_text(root, []) == applied == (root / "params.yaml").read_text()
    assert "wrote into conf/: " in capsys.readouterr().out
    assert overrides_to(root, applied) == []  # nothing left to keep
    assert keep_params(root, "it") == []


@pytest.mark.parametrize(
    "experiment",
    [
        ["~model.candidates.linear"],  # a key removed: no override of conf/ puts that back
        ["~registry.card.owner"],  # a key of a file, removed
    ],
)
def test_an_experiment_conf_cannot_hold_is_refused_and_conf_left_alone(root, experiment):
    applied = compose_text(root, experiment)
    (root / "params.yaml").write_text(applied)
    before = {p: p.read_bytes() for p in (root / "conf").rglob("*.yaml")}
    with pytest.raises(PipelineError, match=r"no overrides of conf/ compose to some-exp's par"):
        keep_params(root, "some-exp's params")
    assert {p: p.read_bytes() for p in (root / "conf").rglob("*.yaml")} == before


def committed(root: Path) -> Callable[..., str]:
    """root made a git repository with its files committed; a git command there."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=root, check=True, capture_output=True, text=True,
        )  # fmt: skip
        return done.stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "workspace")
    return git


def test_apply_refuses_settings_not_committed(root, monkeypatch):
    """`dvc exp apply` would replace them without a word; a `dvc exp run` in the
    workspace leaves its params.yaml there, which `make restore` puts back."""
    from mlops_template.experiments import refuse_uncommitted_settings

    monkeypatch.chdir(root)
    committed(root)
    refuse_uncommitted_settings()
    (root / "params.yaml").write_text(compose_text(root, ["split.test_size=0.3"]))
    with pytest.raises(PipelineError, match=r"uncommitted changes to params.yaml: .*make restore"):
        refuse_uncommitted_settings()


def test_apply_checks_an_experiment_against_the_conf_it_brought(root, monkeypatch):
    """exp best --apply refuses, before `dvc exp apply`, what keep_in_conf could not write:
    judged on the experiment's conf/ (DVC gives it conf/ as it was when queued), not the
    workspace's. An experiment queued with a key removed from conf/ was refused."""
    from mlops_template.experiments import Scored, _refuse_unsayable

    monkeypatch.chdir(root)
    git = committed(root)
    registry = root / "conf/registry/default.yaml"
    kept = registry.read_text()
    # The card's owner, as the template or a project's adopt.py wrote it.
    without, removed = re.subn(r"(?m)^  owner: .*\n", "", kept)
    assert removed == 1
    registry.write_text(without)
    (root / "params.yaml").write_text(compose_text(root, []))
    git("commit", "-qam", "the experiment: conf/ without registry.card.owner")
    registry.write_text(kept)  # the workspace: the key back
    with pytest.raises(PipelineError, match="no overrides of conf/ compose to exp-1's params"):
        keep_params(root, "exp-1's params")  # against the workspace's conf/, as before
    _refuse_unsayable(Scored("exp-1", 0.9, None, rev=git("rev-parse", "HEAD")))
    # Settings its own conf/ cannot say: refused, the workspace's files untouched.
    (root / "params.yaml").write_text(compose_text(root, ["~registry.card.intended_use"]))
    git("commit", "-qam", "another experiment")
    before = {p: p.read_bytes() for p in (root / "conf").rglob("*.yaml")}
    with pytest.raises(PipelineError, match=r"compose to exp-2's params .*; nothing was changed"):
        _refuse_unsayable(Scored("exp-2", 0.9, None, rev=git("rev-parse", "HEAD")))
    assert {p: p.read_bytes() for p in (root / "conf").rglob("*.yaml")} == before


def test_a_key_the_options_file_lacks_is_added(root):
    """As before the check of what conf/ composes to: Hydra alone would want `++`."""
    overrides = ["engine=spark", "engine.spark.conf={spark.sql.shuffle.partitions:4}"]
    apply_to_conf(root, overrides)
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert params["engine"]["spark"]["conf"] == {"spark.sql.shuffle.partitions": 4}
    assert compose_text(root, []) == (root / "params.yaml").read_text()
