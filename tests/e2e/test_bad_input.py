"""Bad data or config: one clear message naming the file, column or key; no output."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.e2e.customers import use_csv

pytestmark = pytest.mark.slow

RAW = "data/raw/dataset.parquet"
VALIDATION = "data/interim/validation.json"


def _fails(result, *expected: str, code: int = 2) -> str:
    """Refused as documented: exit 2 from our commands (255 through `dvc`), the messages."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    return result.stderr


def _use_csv(template, path, target="y"):
    template.main(*use_csv(path, target))


def test_missing_file(template):
    _use_csv(template, "no/such.csv")
    _fails(template.main("collect", check=False), "no/such.csv", "not found", "data.path")
    assert not template.path(RAW).exists()


def test_empty_file(template, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _use_csv(template, empty)
    _fails(template.main("collect", check=False), str(empty), "empty")
    assert not template.path(RAW).exists()


def test_unparsable_csv(template, tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_text("a,y\n1,2\n3,4,5,6\n")
    _use_csv(template, broken)
    _fails(template.main("collect", check=False), str(broken), "cannot read as csv", "line 3")
    assert not template.path(RAW).exists()


def test_missing_target_column_through_dvc(template, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n" + "".join(f"{i},{i % 2}\n" for i in range(50)))
    _use_csv(template, data, target="label")
    result = template.run("dvc", "repro", check=False)
    _fails(result, "target column 'label' (data.target) not found", "['a', 'b']", code=255)
    assert not template.path(VALIDATION).exists()


def test_single_class_target(template, tmp_path):
    data = tmp_path / "one.csv"
    data.write_text("a,y\n" + "".join(f"{i},same\n" for i in range(50)))
    _use_csv(template, data)
    template.main("collect")
    _fails(template.main("validate", check=False), str(data), "'y' has a single class")
    assert not template.path(VALIDATION).exists()


def test_bad_config_value_names_the_key(template):
    before = template.path("params.yaml").read_text()
    result = template.main(
        "params", "compose", "model=random_forest", "model.n_estimators=-3", check=False
    )
    _fails(result, "model.n_estimators", "greater than or equal to 1")
    assert template.path("params.yaml").read_text() == before


def test_unknown_config_key_names_the_key(template):
    result = template.main("params", "compose", "+model.n_trees=10", check=False)
    _fails(result, "model.n_trees: unknown key")


def test_hand_edited_params_fail_before_any_work(template):
    params = template.path("params.yaml")
    params.write_text(params.read_text().replace("test_size: 0.2", "test_size: 1.5"))
    _fails(template.main("collect", check=False), "params.yaml", "split.test_size")
    assert not template.path(RAW).exists()


def test_a_value_no_stage_reads_is_checked_when_composed(template):
    """`dvc exp run -S` composes params.yaml itself; check_params depends on all of it."""
    result = template.run("dvc", "exp", "run", "-S", "predict.chunk_rows=0", check=False)
    assert result.returncode == 255  # DVC's code for a failed stage
    assert "Traceback" not in result.stderr
    assert "predict.chunk_rows" in result.stdout + result.stderr
    assert "greater than or equal to 100" in result.stdout + result.stderr
    assert not template.path(RAW).exists()  # checked before any stage's work


def _rows(n: int = 60) -> list[str]:
    return [f"{i},{i * 1.5},{'yes' if i % 3 else 'no'}" for i in range(n)]


def test_duplicated_target_column_is_refused_not_learned(template, tmp_path):
    """pandas would read the copy as 'churn.1', a feature that is the answer."""
    data = tmp_path / "dupes.csv"
    data.write_text("a,b,churn,churn\n" + "".join(f"{r},{r.rsplit(',', 1)[1]}\n" for r in _rows()))
    _use_csv(template, data, target="churn")
    _fails(template.main("collect", check=False), str(data), "duplicate column names ['churn']")
    assert not template.path(RAW).exists()


def test_numbers_with_a_few_text_cells_are_refused_then_read_by_policy(template, tmp_path):
    rows = _rows()
    for i in (5, 17, 40):  # "a" stays numbers but for three cells
        rows[i] = "unknown" + rows[i][rows[i].index(",") :]
    data = tmp_path / "typos.csv"
    data.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    _use_csv(template, data)
    _fails(
        template.main("collect", check=False),
        str(data),
        "column 'a': 3 of its values are not numbers",
        "['unknown']",
        "read.non_numeric=missing",
    )
    assert not template.path(RAW).exists()
    template.main("params", "compose", *use_csv(data, "y")[2:], "read.non_numeric=missing")
    done = template.main("collect")
    assert "column 'a': 3 values that are not numbers" in done.stderr
    raw = pd.read_parquet(template.path(RAW))
    assert raw["a"].dtype == "float64" and raw["a"].isna().sum() == 3


def test_infinity_is_refused_then_read_by_policy(template, tmp_path):
    rows = _rows()
    rows[7] = rows[7].replace(",10.5,", ",inf,")
    data = tmp_path / "inf.csv"
    data.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    _use_csv(template, data)
    _fails(template.main("collect", check=False), "column 'b': 1 infinite values", "read.infinity")
    assert not template.path(RAW).exists()
    template.main("params", "compose", *use_csv(data, "y")[2:], "read.infinity=missing")
    template.main("collect")
    assert pd.read_parquet(template.path(RAW))["b"].isna().sum() == 1
