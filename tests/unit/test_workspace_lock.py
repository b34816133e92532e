"""One ct (or promote) at a time in a workspace: a second one is refused before it touches
anything, naming the one that holds it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mlops_template import cli
from mlops_template.conf_edits import params_command
from mlops_template.config import parse_config
from mlops_template.error_report import run_reporting_errors
from mlops_template.errors import PipelineError
from mlops_template.io.workspace_lock import HOLDER_ENV, LOCK, refuse_held, workspace_locked
from mlops_template.operate.monitoring.ct import ct
from mlops_template.release.promote import promote

HOLD = """
import sys
from mlops_template.io.workspace_lock import workspace_locked
with workspace_locked("ct drifted.csv"):
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes it
"""


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A DVC workspace's files as a ct run leaves them mid-way (its batch added)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".dvc").mkdir()
    files = {
        "dvc.lock": "stages: {}\n",
        "params.yaml": "model: {}\n",
        "conf/config.yaml": "defaults: []\n",
        "data/incoming/wine/0123.parquet": "the batch ct A added",
        "drifted.csv": "a,b\n1,2\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return files


def snapshot(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != LOCK.name
    }


def test_a_second_ct_or_promote_is_refused_untouched(workspace, tmp_path, params, capsys):
    cfg = parse_config(params)
    before = snapshot(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        # params set and compose: an edit of conf/ made while ct tried was trained on by
        # one try, then lost when the next try rewrote conf/.
        for run, name in [
            (lambda: ct(cfg, "drifted.csv"), "ct drifted.csv"),
            (lambda: promote(cfg, dry_run=False), "promote"),
            (lambda: params_command(tmp_path, "set", ["model=random_forest"]), "params set"),
            (lambda: params_command(tmp_path, "compose", ["model=linear"]), "params compose"),
        ]:
            assert run_reporting_errors(run) == 2
            said = capsys.readouterr().err.strip().splitlines()
            assert len(said) == 1 and said[0].startswith(
                f"error: the workspace is in use by `ct drifted.csv` (pid {holder.pid})"
            )
            assert f"`{name}` changed nothing" in said[0]
        assert snapshot(tmp_path) == before  # the batch file and dvc.lock untouched
    finally:
        holder.communicate("")
    with workspace_locked("ct again"):  # free once the first one has ended
        assert LOCK.read_text() == f"`ct again` (pid {os.getpid()})"
    assert LOCK.read_text() == ""  # nobody named once it has finished


def test_a_stage_is_refused_beside_ct_unless_ct_started_it(workspace, tmp_path, monkeypatch):
    """A `dvc repro` of one's own while ct retrained trained on ct's batch, and was left
    in the workspace once ct put the rest back (dvc status: up to date)."""
    refuse_held("stage `train`")  # nobody holds it
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(
            PipelineError, match=r"in use by `ct drifted.csv` .*stage `train` changed"
        ):
            refuse_held("stage `train`")
        # `python -m mlops_template train x=1` recomposed params.yaml before the stage's
        # check: a try then trained with those settings.
        before = snapshot(tmp_path)
        with pytest.raises(PipelineError, match=r"`params.yaml` recomposed with overrides"):
            cli._apply_overrides(["model=linear"])
        assert snapshot(tmp_path) == before
        monkeypatch.setenv(HOLDER_ENV, f"`ct drifted.csv` (pid {holder.pid})")  # ct's own
        refuse_held("stage `train`")
    finally:
        holder.communicate("")
    monkeypatch.delenv(HOLDER_ENV)
    refuse_held("stage `train`")  # free again
    with workspace_locked("ct b.csv"):  # the holder names itself to what it runs
        assert os.environ[HOLDER_ENV] == f"`ct b.csv` (pid {os.getpid()})"
        refuse_held("stage `train`")
    assert HOLDER_ENV not in os.environ
