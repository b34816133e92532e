"""What `reproduce` compares and names (core/reproduction.py), on hand-made dvc.lock
contents and digests; the rebuild itself is tests/e2e/test_reproduce.py's."""

from __future__ import annotations

from mlops_template.core.reproduction import Compared, Reproduction, kind_of, stale_inputs

LOCK = {
    "schema": "2.0",
    "stages": {
        "collect": {
            "deps": [
                {"path": "src/pkg/stages/collect.py", "md5": "c1"},
                {"path": "data/customers.csv", "md5": "d1"},
                {"path": "conf", "md5": "x.dir"},
            ],
            "params": {"params.yaml": {"data.path": "data/customers.csv"}},
            "outs": [{"path": "data/raw.parquet", "md5": "r1"}],
        },
        "train": {
            "deps": [
                {"path": "data/raw.parquet", "md5": "r1"},  # another stage's output
                {"path": "src/pkg/core/models.py", "md5": "m1"},
            ],
            "params": {"params.yaml": {"model.alpha": 1.0, "train.seed": 0}},
            "outs": [{"path": "models/model.skops", "md5": "k1"}],
        },
    },
}
PARAMS = {"data": {"path": "data/customers.csv"}, "model": {"alpha": 1.0}, "train": {"seed": 0}}
FILES = {
    "src/pkg/stages/collect.py": "c1",
    "data/customers.csv": "d1",
    "src/pkg/core/models.py": "m1",
}


def test_inputs_as_the_lock_recorded_them_are_not_stale():
    assert stale_inputs(LOCK, FILES.get, PARAMS) == {}


def test_each_input_that_differs_is_named_by_kind():
    files = {**FILES, "src/pkg/core/models.py": "m2", "data/customers.csv": None}
    params = {**PARAMS, "model": {"alpha": 0.5}}
    assert stale_inputs(LOCK, files.get, params) == {
        "code": ["src/pkg/core/models.py"],
        "params": ["model.alpha: 1.0 -> 0.5"],
        "data": ["data/customers.csv"],
    }


def test_kinds_by_path():
    assert [kind_of(p) for p in ("conf/model/linear.yaml", "params.yaml", "dvc.yaml")] == [
        "params",
        "params",
        "code",
    ]
    assert kind_of("src/pkg/cli.py") == "code" and kind_of("data/incoming/a.parquet") == "data"


def outputs(model: str = "k1", train: str = "t1") -> list[Compared]:
    return [
        Compared("model file", "k1", model),
        Compared("train data", "t1", train),
        Compared("metrics", "e1", "e1"),
    ]


def test_identical_says_so_and_names_nothing():
    found = Reproduction("m v1", "abc", outputs(), environment=["numpy 2.0 -> 2.1"])
    assert found.identical and found.differs() == {}
    assert found.lines()[-1].startswith("byte-identical")


def test_a_difference_names_stale_inputs_data_and_environment():
    found = Reproduction(
        "m v1",
        "abc",
        outputs(model="k2", train="t2"),
        stale={"code": ["src/pkg/core/models.py"]},
        environment=["scikit-learn 1.7.2 -> 1.8.0"],
    )
    assert not found.identical
    assert found.differs() == {
        "code": ["src/pkg/core/models.py"],
        "data": ["train data"],
        "environment": ["scikit-learn 1.7.2 -> 1.8.0"],
    }
    assert "differs in code: src/pkg/core/models.py" in found.lines()
    assert found.as_json()["outputs"][0] == {
        "name": "model file",
        "registered": "k1",
        "rebuilt": "k2",
        "same": False,
    }


def test_a_difference_nothing_recorded_explains_says_so():
    found = Reproduction("m v1", "abc", outputs(model="k2"))
    assert list(found.differs()) == ["unrecorded"]
    assert not Compared("metrics", None, "e1").same  # nothing registered to compare with


def test_a_served_model_that_could_not_be_loaded_is_not_said_to_score_none():
    """It said "differs (registered None, rebuilt None)" of a version refused on load."""
    from mlops_template.core.reproduction import SERVED

    refused = "refused: it is not the model recorded in the registry's tags"
    found = Reproduction("m v1", "abc", [*outputs(), Compared(SERVED, None, None)], notes=[refused])
    assert f"  {SERVED}: differs (not loaded: see below)" in found.lines()
    assert found.lines()[-2] == f"  {refused}" and list(found.differs()) == ["artifact"]
