"""The repository as a copier template: the default answers give back this repository; a
project of one's own (its names, its CSV) runs, promotes and scores; `copier update`
brings a template change and keeps the project's own edits."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import sys
import urllib.request
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable

from tests.helpers import spark_classes
from tests.helpers.servers import free_port, running
from tests.helpers.template import OUTPUT_FILES, Template

# In the template, not in a project made from it.
TEMPLATE_ONLY = {"copier.yml", "{{ _copier_conf.answers_file }}.jinja", "CHANGELOG.md"}
TEMPLATE_ONLY_FOLDERS = ("tools/licenses/", "tests/template/")
ANSWERS = ".copier-answers.yml"

OWN = {
    "project_name": "Churn Model",
    "description": "Which customers leave, and when to call them",
    "author": "Acme Ltd",
    "license": "Apache-2.0",
    "data": "file",
    "data_target": "churned",
    "data_id": "customer_id",
    "keep_demo": False,
}


def generate(template: Path, project: Path, **answers: str) -> None:
    """`copier copy --trust --defaults` with these answers, as a person would run it."""
    from copier import run_copy

    run_copy(
        str(template), project, data=answers, defaults=True, unsafe=True, vcs_ref="HEAD", quiet=True
    )


def files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def project_env(project: Path) -> dict[str, str]:
    """A shell in the project, not in this test run's environment or its stores."""
    env = {
        k: v
        for k, v in os.environ.items()
        # PYSPARK_PYTHON: this run's interpreter, set by an in-process Spark session
        if not k.startswith(("MLFLOW_", "DVC_", "MAKE", "VIRTUAL_ENV", "PYSPARK_", "SPARK_"))
        and k != "MFLAGS"
    }
    outer = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != outer)
    # C1 only, and no archive of Spark's classes: making one costs more than the project's
    # few sessions would save (tests/helpers/spark_classes.py).
    env["PYSPARK_SUBMIT_ARGS"] = spark_classes.submit_args(None)
    env.update(MLOPS_STAGE_SERVER_IDLE="20", GIT_AUTHOR_NAME="test", GIT_COMMITTER_NAME="test")
    env.update(GIT_AUTHOR_EMAIL="test@localhost", GIT_COMMITTER_EMAIL="test@localhost")
    return env


def shell(project: Path) -> Template:
    """The project's own commands, run as Template runs a copy's, in project_env."""
    here = Template(project)
    here.env = project_env(project)
    return here


def set_key(text: str, key: str, value: str) -> str:
    changed, found = re.subn(rf"(?m)^{key}: .*$", f"{key}: {value}", text)
    assert found == 1, key
    return changed


def customers(n: int = 400) -> pd.DataFrame:
    """A first day's table: an ID, a date, two categoricals, numbers, missing cells and a
    minority class, made the same way every time."""
    import numpy as np

    rng = np.random.default_rng(3)
    plan = rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.35, 0.15])
    tenure = rng.integers(1, 72, n).astype(float)
    spend = np.round(rng.gamma(2.0, 20.0, n), 2)
    logit = -1.0 + 1.5 * (plan == "basic") - 0.04 * tenure + 0.01 * spend
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "signup_date": (
                pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 600, n), unit="D")
            ).strftime("%Y-%m-%d"),
            "plan": plan,
            "region": rng.choice(["north", "south", "east", "west"], n),
            "tenure": tenure,
            "spend": spend,
            "churned": np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no"),
        }
    )
    for column in ["plan", "region", "tenure", "spend"]:
        frame.loc[rng.random(n) < 0.05, column] = None
    return frame


def _record(lock: Path, root: Path, code: str, line: bytes = b"") -> bytes:
    """A stage's code file's digest (after `line` is added to it) recorded in dvc.lock as
    a run records it; dvc.lock's bytes."""
    file = root / code
    file.write_bytes(file.read_bytes() + line)
    md5, size = hashlib.md5(file.read_bytes()).hexdigest(), file.stat().st_size
    entry = rf"(path: {re.escape(code)}\n\s+hash: md5\n\s+md5: )\w+(\n\s+size: )\d+"
    text, found = re.subn(entry, lambda m: f"{m[1]}{md5}{m[2]}{size}", lock.read_text())
    assert found, code
    lock.write_text(text)
    return lock.read_bytes()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """This repository as a fresh clone would hold it (its own conf/), one commit."""
    return Template.fresh(tmp_path_factory.mktemp("template") / "template", overrides=[])


def test_default_answers_give_back_this_repository(template, tmp_path):
    project = tmp_path / "project"
    generate(template.root, project)
    expected = {
        f
        for f in files(template.root)
        if f not in TEMPLATE_ONLY
        and f != "tools/adopt.py"
        and not f.startswith(TEMPLATE_ONLY_FOLDERS)
    }
    assert files(project) == expected | {ANSWERS}
    differ = [f for f in expected if (project / f).read_bytes() != (template.root / f).read_bytes()]
    assert differ == [], "the template's defaults no longer make this repository"
    answers = yaml.safe_load((project / ANSWERS).read_text())
    assert answers["package_name"] == "mlops_template" and answers["data"] == "example"
    # The pipeline's outputs git keeps are the project's own at `copier update`.
    copier_yml = yaml.safe_load((template.root / "copier.yml").read_text())
    assert copier_yml["_skip_if_exists"] == list(OUTPUT_FILES)


def test_any_name_gives_a_valid_default_slug_and_a_taken_package_name_is_refused(
    template, tmp_path
):
    """ "Ünïcode & Co. 2" gave a slug the template's own validator refused (a traceback
    under --defaults); package `json` made a project whose `python -m json` ran the
    standard library's."""
    from copier.errors import TaskError

    generate(template.root, tmp_path / "odd", project_name="2024 Café & Dvořák Größe Co.")
    answers = yaml.safe_load((tmp_path / "odd" / ANSWERS).read_text())
    assert answers["project_slug"] == "project-2024-cafe-dvorak-grosse-co"  # was caf-dvo-ak-gr-e
    assert answers["package_name"] == "project_2024_cafe_dvorak_grosse_co"
    assert (tmp_path / "odd/src/project_2024_cafe_dvorak_grosse_co/cli.py").exists()
    with pytest.raises(TaskError):
        generate(template.root, tmp_path / "taken", package_name="json")
    assert not (tmp_path / "taken").exists()  # copier removes the folder it made


PARAMS_SET = (".venv/bin/python", "-m", "churn_model", "params", "set")
TEAM_MODULE = "from churn_model.io.atomic import write_text\n\nSAVE = write_text\n"


@pytest.mark.slow
def test_a_project_of_ones_own_trains_promotes_and_scores_its_csv(template, tmp_path):
    csv = tmp_path / "customers.csv"
    customers().to_csv(csv, index=False)
    project = tmp_path / "churn"
    generate(template.root, project, data_path=str(csv), **OWN)
    assert (project / "src/churn_model/cli.py").exists() and not (
        project / "src/mlops_template"
    ).exists()
    leftovers = [f for f in files(project) if b"mlops_template" in (project / f).read_bytes()]
    assert leftovers == []
    assert not (project / "conf/data/demo.yaml").exists()  # the demo left out, as answered
    assert not (project / "tests/e2e/test_demo.py").exists()
    assert "Apache License" in (project / "LICENSE").read_text()
    readme = (project / "README.md").read_text()
    assert "bundled" not in readme.split("## The lifecycle")[0], "the example's data in the intro"
    assert (
        (project / "README.md")
        .read_text()
        .startswith(f"# {OWN['project_name']}\n\n{OWN['description']}")
    )
    sh = shell(project)
    sh.run("git", "init", "-q", "-b", "main")
    sh.run("make", "params")  # the README's order: params.yaml composed for the project's data
    sh.commit("From the template")

    output = sh.run("make", "run").stdout
    assert sh.run("git", "diff", "--stat", "params.yaml").stdout == ""  # committed as composed
    assert "Running stage 'evaluate'" in output and "+ pandas==" not in output  # quiet env
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["data"]["target"] == "churned" and params["split"]["key"] == "customer_id"
    metrics = yaml.safe_load((project / "metrics.json").read_text())
    assert 0.5 < metrics["balanced_accuracy"] <= 1
    sh.run("make", "promote")
    with closing(sqlite3.connect(project / "mlflow.db")) as db:
        names = db.execute("SELECT name FROM registered_models").fetchall()
        experiments = {row[0] for row in db.execute("SELECT name FROM experiments")}
    assert names == [("churn-model",)] and "churn-model" in experiments

    batch = tmp_path / "batch.csv"
    customers().drop(columns="churned").head(25).to_csv(batch, index=False)
    sh.run(".venv/bin/python", "-m", "churn_model", "predict", str(batch))
    scored = DeltaTable(str(project / "data/predictions")).to_pandas()
    assert sorted(scored["customer_id"]) == sorted(customers().head(25)["customer_id"])
    assert set(scored["prediction"]) <= {"yes", "no"}
    # The docs' REST example, as written, on this project's data: its request, then a post.
    docs = (project / "docs/serving.md").read_text()
    script = re.search(r"python - <<'EOF'\n(.*?)\nEOF\n", docs, re.S).group(1)
    sh.run(".venv/bin/python", "-c", script)
    port = free_port()
    serve = ["make", "serve", f"SERVE_PORT={port}"]
    url = f"http://127.0.0.1:{port}"
    with running(
        serve, f"{url}/ping", tmp_path / "serve.log", cwd=project, env=project_env(project)
    ):
        request = urllib.request.Request(
            f"{url}/invocations",
            data=(project / "request.json").read_bytes(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            predictions = json.loads(answer.read())["predictions"]
    assert len(predictions) == 2 and set(predictions) <= {"yes", "no"}
    # The project's own tests pass on its conf/, which now points at the CSV and keeps a
    # model and tuning of its own (as ct or `tune keep` write them) and the shadow gate on
    # (docs/release.md keeps it in conf/; a unit test relied on it off): all of them but the
    # Spark engine's validation checks (70 frames made in the test, no conf/ read; a third
    # of the run's time), which this repository's own run proves. The team has a module of
    # its own, which no test lists (the layers' and the layout's failed on one).
    sh.run(*PARAMS_SET, "model=linear", "tune=optuna", "gate.shadow.use=true")
    (project / "src/churn_model/team_utils.py").write_text(TEAM_MODULE)
    fast = sh.run(
        "make", "test-fast", env={"PYTEST_ADDOPTS": "--ignore=tests/unit/test_spark_checks.py"}
    )
    assert re.search(r"\b[1-9]\d{2,} passed", fast.stdout), fast.stdout[-2000:]


@pytest.mark.slow
def test_copier_update_brings_a_template_change_and_keeps_the_projects_edits(template, tmp_path):
    source = template.clone_to(tmp_path / "template")
    project = tmp_path / "churn"
    generate(source.root, project, project_name="Churn Model")
    sh = shell(project)
    sh.run("git", "init", "-q", "-b", "main")
    sh.commit("From the template")
    # The user's own edits: a model of their own, a changed param, a file of their own.
    forest = (project / "conf/model/random_forest.yaml").read_text()
    (project / "conf/model/my_forest.yaml").write_text(set_key(forest, "n_estimators", "50"))
    split = project / "conf/split/default.yaml"
    split.write_text(set_key(split.read_text(), "test_size", "0.3"))
    (project / "notes.md").write_text("ours\n")
    # The project's own pipeline outputs: a run records its renamed code's digests.
    own_lock = _record(project / "dvc.lock", project, "src/churn_model/compose.py")
    sh.commit("Our changes")

    # The template moves on: a new make target, a new setting's comment, a new file.
    makefile = source.root / "Makefile"
    makefile.write_text(
        makefile.read_text()
        + "\nhello: ## a target added later\n\tpython -m mlops_template --help\n"
    )
    (source.root / "conf/split/default.yaml").write_text(
        "# Updated by the template.\n" + (source.root / "conf/split/default.yaml").read_text()
    )
    (source.root / "tools/new_tool.py").write_text('"""Added later."""\n')
    # A change to a stage's code, its dvc.lock entry with it, as the template commits one:
    # the project's dvc.lock came out of the update full of conflict markers.
    _record(source.root / "dvc.lock", source.root, "src/mlops_template/compose.py", b"# new\n")
    source.commit("A template change")

    from copier import run_update

    generated_from = yaml.safe_load((project / ANSWERS).read_text())["_commit"]
    run_update(project, defaults=True, unsafe=True, overwrite=True, vcs_ref="HEAD", quiet=True)
    assert "python -m churn_model --help" in (project / "Makefile").read_text()
    assert (project / "tools/new_tool.py").exists() and not (
        project / "src/mlops_template"
    ).exists()
    split_text = split.read_text()
    assert (
        split_text.startswith("# Updated by the template.\n") and "test_size: 0.3\n" in split_text
    )
    assert "n_estimators: 50" in (project / "conf/model/my_forest.yaml").read_text()
    assert (project / "notes.md").read_text() == "ours\n"
    assert not list(project.rglob("*.rej")), "conflicts where there should be none"
    assert (project / "dvc.lock").read_bytes() == own_lock  # the project's, not the template's
    assert (project / "src/churn_model/compose.py").read_text().endswith("\n# new\n")
    assert yaml.safe_load((project / ANSWERS).read_text())["_commit"] != generated_from
    sh.commit("Template update")
    sh.run("make", "run")
    assert yaml.safe_load((project / "params.yaml").read_text())["split"]["test_size"] == 0.3
