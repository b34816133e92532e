"""The make targets the CI and CT workflows call, run as the workflows run them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_template.io.lineage import file_md5
from tests.e2e.conftest import MLFLOW_RUN
from tests.helpers.servers import s3_client
from tests.helpers.template import Template

pytestmark = pytest.mark.slow

MODEL = "models/model.skops"
RAW = "data/raw/dataset.parquet"


def test_env_builds_the_core_venv_from_the_lock(template, tmp_path):
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")
    done = template.make("env", venv=venv)  # as in a fresh clone
    assert "uv sync --frozen" in done.stdout and (venv / ".synced").is_file()
    imported = template.run(python, "-c", "import mlops_template, mlflow, dvc; print('ok')")
    assert imported.stdout.strip() == "ok"
    # The core leaves out the extras (and the dev tools): no Spark, PostgreSQL or S3.
    absent = "import importlib.util as u; print([m for m in M if u.find_spec(m)])"
    for module in ["pyspark", "psycopg", "flask_wtf", "boto3", "dvc_s3", "pytest"]:
        found = template.run(python, "-c", absent.replace("M", repr([module])))
        assert found.stdout.strip() == "[]", module
    # What needs an extra says which, in one line.
    spark = template.run(
        python, "-m", "mlops_template", "predict", "b.csv", "--engine", "spark", check=False
    )
    assert spark.returncode == 2
    assert spark.stderr.strip() == (
        "error: the Spark engine needs the 'spark' extra, which is not installed "
        "(no module 'pyspark'): run `make env EXTRAS=spark`"
    )
    store = template.run(
        python,
        "-m",
        "mlops_template",
        "promote",
        check=False,
        env={"MLFLOW_TRACKING_URI": "postgresql+psycopg://u@127.0.0.1:9/db"},
    )
    assert store.returncode == 2 and "needs the 'server' extra" in store.stderr
    assert "uv sync" not in template.make("env", venv=venv).stdout  # up to date now
    added = template.make("env", "EXTRAS=spark", venv=venv)
    assert "--extra spark" in added.stdout
    assert template.run(python, "-c", "import pyspark").returncode == 0


def test_dvc_push_and_pull_through_the_local_default_remote(reproduced, tmp_path):
    copy = reproduced.clone_to(tmp_path / "copy")
    copy.make("dvc-push")  # the default remote: ../dvc-storage, beside the clone
    pushed = {p.name for p in (tmp_path / "dvc-storage").rglob("*") if p.is_file()}
    assert file_md5(copy.path(MODEL))[2:] in pushed
    # Every commit's data goes there too: DVC read the relative path from / for commits
    # (`dvc push -A` pushed them to /dvc-storage), so the clone's own path is set locally.
    assert copy.run("dvc", "push", "-A").stdout.strip() == "Everything is up to date."

    clone = fresh_clone(copy, tmp_path / "clone")  # beside it: the same default remote
    clone.make("dvc-pull")
    assert file_md5(clone.path(MODEL)) == file_md5(copy.path(MODEL))
    assert clone.run("dvc", "status", "--quiet", check=False).returncode == 0

    elsewhere = fresh_clone(copy, tmp_path / "other" / "clone")  # nothing pushed there yet
    assert "does not exist yet" in elsewhere.make("dvc-pull").stdout
    assert not elsewhere.path(MODEL).exists()


def test_dvc_push_and_pull_through_an_s3_remote_from_the_environment(
    reproduced, tmp_path, s3_store
):
    copy = reproduced.clone_to(tmp_path / "copy")
    remote = {**s3_store, "DVC_REMOTE_URL": "s3://store/dvc"}
    # CI's first run, before anyone pushed: what the remote lacks is listed, not an error
    # (the pipeline rebuilds it); the pull failed, and so did every CI run after it.
    first = fresh_clone(copy, tmp_path / "first").make("dvc-pull", env=remote)
    assert "do not exist neither locally nor on remote" in first.stdout + first.stderr
    # ...but data tracked by a .dvc file, which nothing rebuilds, must be there.
    copy.path("data/extra.csv").write_text("a,b\n1,2\n")
    copy.run("dvc", "add", "-q", "data/extra.csv")
    copy.commit("Data of our own")
    second = fresh_clone(copy, tmp_path / "second").make("dvc-pull", env=remote, check=False)
    assert second.returncode == 2 and "is not on the DVC remote" in second.stderr
    copy.make("dvc-push", env=remote)
    s3 = s3_client(s3_store)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="store")["Contents"]]
    md5 = file_md5(copy.path(MODEL))
    key = f"dvc/files/md5/{md5[:2]}/{md5[2:]}"
    assert key in keys, "the model did not reach the S3 remote"
    stored = s3.get_object(Bucket="store", Key=key)["Body"].read()
    assert stored == copy.path(MODEL).read_bytes()  # the content, not just a name
    assert not (tmp_path / "dvc-storage").exists(), "pushed to the default remote instead"

    clone = fresh_clone(copy, tmp_path / "clone")
    clone.make("dvc-pull", env=remote)
    assert file_md5(clone.path(MODEL)) == md5
    assert clone.run("dvc", "status", "--quiet", check=False).returncode == 0
    # The remote lives in the clone's git-ignored config.local; .dvc/config is unchanged.
    assert "s3://store/dvc" in clone.path(".dvc/config.local").read_text()
    assert clone.run("git", "status", "--porcelain").stdout == ""


def fresh_clone(copy: Template, root: Path) -> Template:
    root.parent.mkdir(parents=True, exist_ok=True)
    copy.run("git", "clone", "-q", str(copy.root), str(root))
    clone = Template(root)
    assert not clone.path(MODEL).exists()
    return clone


def test_metrics_diff_and_the_gate_in_dry_run(reproduced, tmp_path):
    copy = reproduced.clone_to(tmp_path / "copy")
    copy.mlops("params", "compose", "model=linear")
    copy.make("run")
    summary = tmp_path / "summary.md"
    done = copy.make("metrics-diff", "BASE=HEAD", env={"GITHUB_STEP_SUMMARY": str(summary)})
    report = copy.path("reports/metrics-diff.md").read_text()
    assert re.search(r"\| metrics\.json +\| accuracy", report), report
    assert re.search(r"\| params\.yaml +\| model\.type", report), report
    assert "linear" in report and report in done.stdout
    assert summary.read_text() == report  # the job summary gets the same table
    assert copy.path("reports/plots-diff/index.html").is_file()

    dry = copy.make("promote-dry-run")
    assert "dry run: would promote" in dry.stderr
    copy.mlops(
        "params", "compose", "model=linear", "+gate.classification.thresholds.accuracy.min=0.999"
    )
    refused = copy.make("promote-dry-run", check=False)
    assert refused.returncode == 2 and "would refuse" in refused.stderr  # fails the CI check


def test_make_run_in_a_fresh_copy_reproduces_the_committed_lock(reproduced):
    # dvc.lock, metrics and .gitignore files come out as committed.
    assert reproduced.run("git", "status", "--porcelain").stdout == ""


def test_the_projects_own_committed_lock_is_what_make_run_makes(tmp_path):
    # On the project's own conf/ and data (the template's: its demo), a fresh clone's
    # first `make run` remakes dvc.lock and metrics.json byte for byte: they were not
    # committed stale.
    copy = Template.fresh(tmp_path / "own", overrides=[])
    copy.make("run")
    assert copy.run("git", "status", "--porcelain").stdout == ""


def _clean(copy: Template) -> bool:
    git = copy.run("git", "status", "--porcelain", "--untracked-files=no").stdout
    return git == "" and copy.run("dvc", "status", "--quiet", check=False).returncode == 0


def test_restore_after_an_entry_point_run_and_a_failed_experiment(reproduced, tmp_path):
    copy = reproduced.clone_to(tmp_path / "copy")
    copy.commit("pipeline run")
    model = file_md5(copy.path(MODEL))
    # A stage through MLflow with overrides: params.yaml recomposed, a model DVC never cached.
    train = ["mlflow", "run", ".", "-e", "train", "-P", "overrides=model=linear model.alpha=3"]
    copy.run(*train, *MLFLOW_RUN)
    assert not _clean(copy) and file_md5(copy.path(MODEL)) != model
    copy.make("restore")
    assert _clean(copy) and file_md5(copy.path(MODEL)) == model
    # A failed experiment: DVC removed the failing stage's outputs before it ran.
    failed = copy.run("dvc", "exp", "run", "-S", "data.target=no_such_column", check=False)
    assert failed.returncode == 255 and not copy.path(RAW).exists()
    copy.make("restore")
    assert _clean(copy) and copy.path(RAW).exists() and file_md5(copy.path(MODEL)) == model


def test_gc_removes_deleted_runs_and_their_artifacts(template, tmp_path):
    import mlflow
    from mlflow.exceptions import MlflowException

    # A store of the copy's own (a shared build's artifacts must never be collected).
    client = mlflow.MlflowClient(template.env["MLFLOW_TRACKING_URI"])
    experiment = client.create_experiment("gc", artifact_location=str(template.path("mlruns")))
    kept, deleted = (client.create_run(experiment).info for _ in range(2))
    note = tmp_path / "note.txt"
    note.write_text("an artifact")
    for run in (kept, deleted):
        client.log_artifact(run.run_id, str(note))
    client.delete_run(deleted.run_id)
    folders = {
        run.run_id: Path(run.artifact_uri.removeprefix("file://")) for run in (kept, deleted)
    }
    assert all((folder / "note.txt").is_file() for folder in folders.values())
    template.make("gc")
    with pytest.raises(MlflowException):
        client.get_run(deleted.run_id)
    assert not folders[deleted.run_id].exists()
    assert client.get_run(kept.run_id) and (folders[kept.run_id] / "note.txt").is_file()
