"""What the pipeline does with the columns and rows of real tables: a row number is not a
feature, rows without a target and classes too small to learn are said and handled. The
stages run through the command line's main() in a folder of their own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_template.io.model_file import load_model
from tests.helpers.template import OUTPUT_STAGES, REPO, Template, template_text

ROWS = 600
UNLABELLED = 30


def table(seed: int = 0) -> pd.DataFrame:
    """Three classes by x, one class of a single row, some rows without a target, and a
    row number that follows the target's order (as an exported R data frame's rownames)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=ROWS)
    kind = np.where(x < -0.4, "a", np.where(x < 0.4, "b", "c")).astype(object)
    kind[0] = "z"
    frame = pd.DataFrame({"x": x, "noise": rng.normal(size=ROWS), "kind": kind})
    frame = frame.sort_values("kind", kind="stable").reset_index(drop=True)
    frame.insert(0, "rownames", np.arange(1, ROWS + 1))
    frame.loc[rng.choice(np.arange(1, ROWS), UNLABELLED, replace=False), "kind"] = None
    return frame


def project(root: Path, *overrides: str) -> Template:
    root.mkdir()
    table().to_csv(root / "table.csv", index=False)
    config = ["data=csv", "data.path=table.csv", "data.target=kind", "model=linear", *overrides]
    (root / "params.yaml").write_text(template_text(*config))
    shutil.copy(REPO / "dvc.yaml", root)
    return Template(root)


@pytest.fixture(scope="module")
def dropped(tmp_path_factory):
    """The table through the pipeline with small classes dropped."""
    copy = project(tmp_path_factory.mktemp("tables") / "drop", "validate.small_classes=drop")
    outputs = {stage: copy.main(stage) for stage in OUTPUT_STAGES}  # a project's own too
    return copy, outputs


def test_a_class_of_one_row_stops_validate_by_default(tmp_path):
    copy = project(tmp_path / "p")
    copy.main("collect")
    done = copy.main("validate", check=False)
    assert done.returncode == 2
    assert "class ['z'] with a single row" in done.stderr
    assert "set validate.small_classes=drop to drop their rows, or =merge" in done.stderr
    assert not copy.path("data/interim/validation.json").exists()


def test_a_row_number_is_not_a_feature_and_validate_says_so(dropped):
    copy, outputs = dropped
    assert (
        "column 'rownames' has a different value in nearly every row, like a row number or code: "
        "not a feature (validate.identifiers=keep keeps it" in outputs["validate"].stderr
    )
    report = json.loads(copy.path("data/interim/validation.json").read_text())
    assert report["identifiers"] == ["rownames"] and "rownames" not in report["features"]
    schema = json.loads(copy.path("models/schema.json").read_text())
    assert [c["name"] for c in schema["columns"]] == ["x", "noise"]
    assert schema["identifiers"] == ["rownames"]  # a batch may still hold it (predict)


def test_rows_without_a_target_are_counted_aloud(dropped):
    _, outputs = dropped
    line = f"{UNLABELLED} of {ROWS} rows (5.0%) have no target 'kind': prepare drops them"
    assert line in outputs["validate"].stderr


def test_a_small_class_dropped_is_said_and_its_rows_gone(dropped):
    copy, outputs = dropped
    assert "the small class 'z' (1 row): dropped (validate.small_classes)" in (
        outputs["validate"].stderr
    )
    rows = [pd.read_parquet(copy.path(f"data/prepared/{s}.parquet")) for s in ("train", "test")]
    kinds = pd.concat(rows)["kind"]
    assert len(kinds) == ROWS - UNLABELLED - 1 and set(kinds) == {"a", "b", "c"}


@pytest.fixture(scope="module")
def wordy(tmp_path_factory):
    """A generated table with a column of 5,000 levels and a near-unique free-text one,
    through the pipeline (core/synthetic.py: each carries signal)."""
    root = tmp_path_factory.mktemp("tables") / "wordy"
    root.mkdir()
    config = [
        "data=synthetic",
        "data.n_rows=12000",
        "data.n_levels=5000",
        "data.text=true",
        "data.task=regression",
    ]
    (root / "params.yaml").write_text(template_text(*config))
    shutil.copy(REPO / "dvc.yaml", root)
    copy = Template(root)
    outputs = {
        stage: copy.main(stage) for stage in OUTPUT_STAGES[: OUTPUT_STAGES.index("train") + 1]
    }
    return copy, outputs


def test_many_levels_and_free_text_are_read_by_effect_and_by_words(wordy):
    copy, outputs = wordy
    frame = pd.read_parquet(copy.path("data/raw/dataset.parquet"))
    assert frame["code"].nunique() > 4900  # 5,000 levels, some missing in every row
    assert frame["text"].nunique() > 0.9 * len(frame)
    said = outputs["validate"].stderr
    assert "column 'code' has more values than features.max_categories: the model reads " in said
    assert "column 'text' is free text: the model reads its most frequent words" in said
    report = json.loads(copy.path("data/interim/validation.json").read_text())
    assert report["encodings"] == {"code": "many_levels", "text": "text"}
    assert report["identifiers"] == []  # unique text with words in it is not an identifier
    schema = {
        c["name"]: c for c in json.loads(copy.path("models/schema.json").read_text())["columns"]
    }
    assert schema["code"]["encoding"] == "many_levels" and "categories" not in schema["code"]
    assert schema["text"]["encoding"] == "text" and "categories" not in schema["text"]
    model = load_model(copy.path("models/model.skops"))
    columns = model.named_steps["preprocess"]
    columns = getattr(columns, "named_steps", {}).get("columns", columns)
    readers = {name: cols for name, _, cols in columns.transformers_ if cols}
    assert readers["many_levels"] == ["code"] and readers["text"] == ["text"]
    assert "code" not in readers["categorical"] and "text" not in readers["categorical"]
