"""Promotion, rollback and retirement against a real MLflow registry in a temp store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from mlops_template.core.champion_history import champion_line
from mlops_template.io.model_file import load_model
from tests.helpers.browser import rendered_dom
from tests.helpers.servers import free_port, tracking_server
from tests.helpers.template import Template, built_once

pytestmark = pytest.mark.slow

NAME = "mlops-template"
REFUSED = 3
# Candidates, weakest first on balanced accuracy (the gate's metric for classification):
# a one-split stump is clearly (beyond the bootstrap's noise) worse than the default.
CANDIDATES = {
    "weak": ["model=random_forest", "model.n_estimators=1", "model.max_depth=1"],
    "default": [],
    "forest": ["model=random_forest", "model.n_estimators=30", "model.max_depth=3"],
}


@pytest.fixture(scope="session")
def trained(reproduced_build, tmp_path_factory) -> Template:
    """A copy whose store holds a train run for each candidate; one git commit each.
    Built once per test run; tests change clones of it."""

    def build(folder):
        copy = reproduced_build.clone_to(folder / "copy")
        for name, overrides in CANDIDATES.items():
            copy.main("params", "compose", *overrides)
            # Forced: the default model is trained again, to be logged to this store.
            copy.run("dvc", "repro", "--force", "--single-item", "train", "evaluate")
            copy.commit(name)
            copy.run("git", "tag", name)

    return Template(built_once(tmp_path_factory, "registry-candidates", build) / "copy")


@pytest.fixture
def copy(trained, tmp_path) -> Template:
    return trained.clone_to(tmp_path / "copy", with_store=True)


def use(copy: Template, candidate: str) -> None:
    copy.run("git", "checkout", candidate, "--", "params.yaml", "dvc.lock", "metrics.json")
    copy.run("dvc", "checkout")


def promote(copy: Template, *args: str):
    return copy.main("promote", *args, check=False)


def client(copy: Template) -> MlflowClient:
    mlflow.set_tracking_uri(copy.env["MLFLOW_TRACKING_URI"])
    return MlflowClient()


def aliases(copy: Template) -> dict[str, str]:
    found = client(copy).search_registered_models()
    if not found:
        return {}
    return {k: str(v) for k, v in client(copy).get_registered_model(NAME).aliases.items()}


def versions(copy: Template) -> list[str]:
    return sorted(str(v.version) for v in client(copy).search_model_versions(f"name = '{NAME}'"))


def events(copy: Template) -> list[dict]:
    runs = client(copy).search_runs(
        [e.experiment_id for e in client(copy).search_experiments()],
        filter_string="tags.`registry.action` != ''",
        order_by=["attributes.start_time ASC"],
    )
    return [
        {
            "action": r.data.tags["registry.action"],
            "version": r.data.tags["registry.version"],
            "previous": r.data.tags["registry.previous_champion"],
            "status": r.info.status,
        }
        for r in runs
    ]


@pytest.fixture(autouse=True)
def _reset_tracking_uri():
    yield
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="session")
def weak_champion(trained, tmp_path_factory) -> Template:
    """`trained` with the weak candidate promoted: champion v1. Built once per run."""

    def build(folder):
        copy = trained.clone_to(folder / "copy", with_store=True)
        use(copy, "weak")
        checked = promote(copy)
        assert checked.returncode == 0, checked.stderr

    return Template(built_once(tmp_path_factory, "registry-weak-champion", build) / "copy")


def test_the_first_candidate_becomes_champion_with_its_lineage(copy):
    use(copy, "weak")
    first = promote(copy)
    assert first.returncode == 0, first.stderr
    assert aliases(copy) == {"champion": "1", "challenger": "1"}
    report = json.loads(copy.path("reports/promotion.json").read_text())
    assert report["champion_version"] is None and report["decision"]["promote"]
    version = client(copy).get_model_version(NAME, "1")
    # Trained before its params were committed: the commit before, and a dirty tree.
    parent = copy.run("git", "rev-parse", "weak~1").stdout.strip()
    assert version.tags["lineage.git_commit"] == parent
    assert version.tags["lineage.git_dirty"] == "true"
    assert version.tags["lineage.source_run_id"] == report["candidate"]["source_run_id"]
    assert version.tags["lineage.model_md5"] == report["candidate"]["model_md5"]
    assert version.tags["gate.decision"] == "promoted"
    # The metrics it was registered with, which `reproduce` compares a rebuild's with.
    evaluated = client(copy).get_run(version.tags["lineage.evaluate_run_id"]).data.tags
    assert evaluated["pipeline.stage"] == "evaluate"
    assert evaluated["model_md5"] == report["candidate"]["model_md5"]
    # The gate's own run: its decision, the candidate's metrics and the JSON report.
    (gate_run,) = client(copy).search_runs(
        [e.experiment_id for e in client(copy).search_experiments()],
        filter_string="tags.`pipeline.stage` = 'promote'",
    )
    assert gate_run.data.tags["gate.decision"] == "promoted"
    assert gate_run.data.tags["registry.model_version"] == "1"
    assert gate_run.data.metrics == {
        f"candidate.{k}": v for k, v in report["candidate_metrics"].items()
    }
    logged = mlflow.artifacts.load_dict(f"{gate_run.info.artifact_uri}/promotion.json")
    assert logged["candidate"] == report["candidate"]


def test_a_registered_version_has_its_model_card(copy, tmp_path):
    """In the version's description (the registry UI shows it), and as a page in its
    training run that a browser opens offline."""
    use(copy, "weak")
    assert promote(copy).returncode == 0
    version = client(copy).get_model_version(NAME, "1")
    assert version.description.startswith(f"# Model card: {NAME} v1")
    for heading in ("What it is for", "Training data", "Test metrics", "The gate's verdict"):
        assert f"## {heading}" in version.description
    assert "Intended use: Demo: which subscription customers" in version.description
    run = version.tags["lineage.source_run_id"]
    listed = {a.path for a in client(copy).list_artifacts(run, "model_card")}
    assert listed == {"model_card/model_card.md", "model_card/model_card.html"}
    folder = mlflow.artifacts.download_artifacts(
        run_id=run, artifact_path="model_card", dst_path=str(tmp_path)
    )
    dom = rendered_dom(Path(folder) / "model_card.html")
    assert "<h1>Model card: mlops-template v1</h1>" in dom
    assert dom.count("<h2>") == 8 and dom.count("<table>") >= 4
    assert "baseline:balanced_accuracy" in dom and "make reproduce VERSION=1" in dom


@pytest.fixture
def weak_copy(weak_champion, tmp_path) -> Template:
    return weak_champion.clone_to(tmp_path / "copy", with_store=True)


def test_a_better_candidate_replaces_the_champion(weak_copy):
    copy = weak_copy
    use(copy, "default")
    better = promote(copy)
    assert better.returncode == 0, better.stderr
    assert aliases(copy) == {"champion": "2", "challenger": "2"}
    report = json.loads(copy.path("reports/promotion.json").read_text())
    checks = {c["check"]: c for c in report["decision"]["checks"]}
    check = checks["improvement:balanced_accuracy"]
    assert check["verdict"] == "better" and check["interval"][0] > 0
    assert check["candidate"] > check["champion"]
    # The champion was re-scored on this evaluation data, not read from its old run.
    assert report["champion_metrics"]["balanced_accuracy"] == check["champion"]
    # ...on every test row (the same split: the champion trained on none of them), and
    # both beat the trivial baseline (the majority class) there.
    rows = report["evaluation_data"]["rows"]
    assert rows["excluded_champion_training_rows"] == 0 and rows["evaluation"] == rows["test"]
    assert check["rows"] == rows["evaluation"]
    assert checks["baseline:balanced_accuracy"]["baseline"] == 0.5


def test_a_worse_candidate_stays_challenger_and_keeps_its_version(weak_copy):
    copy = weak_copy
    use(copy, "default")
    assert promote(copy).returncode == 0  # v2 champion
    use(copy, "weak")
    worse = promote(copy)
    assert worse.returncode == REFUSED
    # A few lines a person reads: the verdict naming the failed checks, then why.
    assert worse.stdout == "" and len(worse.stderr.splitlines()) <= 4, worse.stderr
    verdict = worse.stderr.splitlines()[0]
    assert verdict.startswith("refused: mlops-template v1 is challenger only (failed: ")
    assert "improvement:balanced_accuracy" in verdict
    assert "balanced_accuracy: candidate" in worse.stderr and "worse" in worse.stderr
    assert aliases(copy) == {"champion": "2", "challenger": "1"}
    assert versions(copy) == ["1", "2"]  # the same model keeps its version
    assert client(copy).get_model_version(NAME, "1").tags["gate.decision"] == "refused"


def test_the_champion_itself_is_already_champion(weak_copy):
    copy = weak_copy
    use(copy, "weak")
    again = promote(copy)
    assert again.returncode == 0 and "already champion" in again.stderr
    assert versions(copy) == ["1"]
    report = json.loads(copy.path("reports/promotion.json").read_text())
    assert report["already_champion"] and report["decision"]["checks"][0]["check"] == (
        "already_champion"
    )


def test_thresholds_refuse_even_without_a_champion(copy):
    use(copy, "default")
    copy.main("params", "compose", "+gate.classification.thresholds.accuracy.min=0.999")
    refused = promote(copy)
    assert refused.returncode == REFUSED
    assert "accuracy = " in refused.stderr and "outside min 0.999" in refused.stderr
    assert aliases(copy) == {"challenger": "1"}


def test_dry_run_changes_nothing(copy):
    use(copy, "weak")
    assert promote(copy).returncode == 0
    copy.path("reports/promotion.json").unlink()
    before = (aliases(copy), versions(copy), len(events(copy)))
    use(copy, "default")
    dry = promote(copy, "--dry-run", "--verbose")  # the whole report, on stdout
    assert dry.returncode == 0 and "would promote" in dry.stderr
    assert json.loads(dry.stdout)["decision"]["promote"] is True
    assert (aliases(copy), versions(copy), len(events(copy))) == before
    assert not copy.path("reports/promotion.json").exists()
    use(copy, "weak")
    use(copy, "default")
    copy.main("params", "compose", "gate.classification.min_improvement=0.5")
    assert promote(copy, "--dry-run").returncode == REFUSED


def test_rollback_follows_the_promotions_of_a_real_pipeline(weak_copy):
    """rollback on a real pipeline's registry (its logic, and retire's, in process on a
    temporary store: tests/unit/test_release_registry.py)."""
    copy = weak_copy
    use(copy, "default")
    assert promote(copy).returncode == 0
    copy.main("rollback")
    assert aliases(copy)["champion"] == "1"
    history = [(e["action"], e["version"], e["previous"]) for e in events(copy)]
    assert history == [("promote", "1", ""), ("promote", "2", "1"), ("rollback", "1", "2")]
    assert aliases(copy) == {"champion": "1", "challenger": "2"}
    # The workspace still holds v2's model: it beats v1, but was rolled back; the next
    # promote (as CI runs it) must not bring it straight back.
    dry = promote(copy, "--dry-run")
    assert dry.returncode == REFUSED, dry.stderr
    assert "would refuse the candidate (failed: rolled_back)" in dry.stderr
    assert "v2 was rolled back (champion v2 -> v1" in dry.stderr
    assert promote(copy).returncode == REFUSED
    assert aliases(copy) == {"champion": "1", "challenger": "2"}
    # Crowned again on purpose, it is trusted again.
    copy.main("rollback", "--to", "2")
    assert "already champion" in promote(copy).stderr


def test_concurrent_promotions_leave_consistent_aliases(trained, tmp_path):
    """Two workspaces, one store, promoting at once: the better model ends champion."""
    weak = trained.clone_to(tmp_path / "weak", with_store=True)
    strong = Template(tmp_path / "strong")
    subprocess.run(["cp", "-a", str(weak.root), str(strong.root)], check=True)
    use(weak, "weak")
    use(strong, "default")
    store = weak.env["MLFLOW_TRACKING_URI"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mlops_template", "promote"],
            cwd=c.root,
            env={**c.env, "MLFLOW_TRACKING_URI": store},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in (weak, strong)
    ]
    codes = [p.wait(timeout=600) for p in procs]
    assert sorted(codes) in ([0, 0], [0, REFUSED]), [p.stderr.read() for p in procs]
    current = aliases(weak)
    lock = yaml.safe_load(strong.run("git", "show", "default:dvc.lock").stdout)
    outs = lock["stages"]["train"]["outs"]
    strong_md5 = next(o["md5"] for o in outs if o["path"] == "models/model.skops")
    (strong_version,) = client(weak).search_model_versions(
        f"name = '{NAME}' and tags.`lineage.model_md5` = '{strong_md5}'"
    )
    assert current["champion"] == str(strong_version.version)
    assert versions(weak) == ["1", "2"]
    history = [e for e in events(weak) if e["status"] == "FINISHED"]
    assert champion_line(history)[-1] == current["champion"]


def test_unreachable_store_is_a_clear_error(copy):
    use(copy, "default")
    down = copy.run(
        sys.executable,
        "-m",
        "mlops_template",
        "promote",
        env={"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"},
        check=False,
    )
    assert down.returncode == 2
    assert "is unreachable" in down.stderr and "nothing was changed" in down.stderr
    assert "Traceback" not in down.stderr


def test_promotion_against_a_tracking_server(trained, tmp_path):
    copy = trained.clone_to(tmp_path / "copy")
    with tracking_server(tmp_path) as uri:
        copy.env["MLFLOW_TRACKING_URI"] = uri
        use(copy, "default")
        copy.run("dvc", "repro", "--force", "-s", "train")  # logs the model to the server
        done = promote(copy)
        assert done.returncode == 0, done.stderr
        assert aliases(copy) == {"champion": "1", "challenger": "1"}
        served = mlflow.sklearn.load_model(f"models:/{NAME}@champion")  # through the server
        rows = pd.read_parquet(copy.path("data/prepared/test.parquet")).drop(columns="target")
        local = load_model(copy.path("models/model.skops"))
        np.testing.assert_array_equal(served.predict_proba(rows), local.predict_proba(rows))
        assert copy.main("rollback", check=False).returncode == 2  # nothing to go back to


def test_a_model_no_better_than_the_majority_class_is_refused(template, tmp_path):
    """Features that carry nothing and an 80/20 label: whatever the model learns, it does
    not beat always answering the majority class, and the gate says so."""
    rng = np.random.default_rng(0)
    n = 800
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.choice(list("xyz"), n),
            "label": rng.choice(["common", "rare"], n, p=[0.8, 0.2]),
        }
    )
    data = tmp_path / "noise.csv"
    frame.to_csv(data, index=False)
    template.main("params", "compose", "data=csv", f"data.path={data}", "data.target=label")
    template.run("dvc", "repro")
    refused = promote(template)
    assert refused.returncode == REFUSED, refused.stderr
    assert "does not beat the trivial baseline (majority class or mean)" in refused.stderr
    assert aliases(template) == {"challenger": "1"}
