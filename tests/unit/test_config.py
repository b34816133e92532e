from __future__ import annotations

import re
from types import UnionType
from typing import Annotated, Union, get_args, get_origin

import pytest
import yaml

from mlops_template.config import Config, flatten, load_config, parse_config
from mlops_template.config.base import NOT_BOOL, Strict
from mlops_template.config.model import HistGradientBoostingModel
from mlops_template.errors import PipelineError


def test_repo_params_load(params):
    cfg = parse_config(params)
    assert isinstance(cfg, Config)
    assert cfg.split.test_size == params["split"]["test_size"]
    assert cfg.validate_.min_rows == params["validate"]["min_rows"]
    assert cfg.paths.schema_ == params["paths"]["schema"]


def test_load_config_from_file(tmp_path, params):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    assert load_config(path) == parse_config(params)


def test_unknown_key_is_named(params):
    params["model"]["n_trees"] = 3
    with pytest.raises(PipelineError, match=r"model\.n_trees: unknown key"):
        parse_config(params)


def test_bad_model_value_names_key_without_union_tag(params):
    params["model"] = {"type": "hist_gradient_boosting", "max_iter": 0}
    with pytest.raises(PipelineError) as err:
        parse_config(params)
    message = str(err.value)
    assert "model.max_iter:" in message
    assert "hist_gradient_boosting.max_iter" not in message


def test_bad_data_value_names_key_without_union_tag(params):
    params["data"] = {"source": "file", "format": "csv", "path": "", "target": "y", "watch": "x"}
    with pytest.raises(PipelineError) as err:
        parse_config(params)
    assert "  data.path:" in str(err.value)
    assert "data.file." not in str(err.value)


def test_bad_split_value_is_named(params):
    params["split"]["test_size"] = 1.5
    with pytest.raises(PipelineError, match=r"split\.test_size: .*\(got 1\.5\)"):
        parse_config(params)


@pytest.mark.parametrize("key", ["train.seed", "split.seed", "monitor.seed", "gate.bootstrap.seed"])
def test_a_seed_numpy_and_scikit_learn_cannot_take_is_named(params, key):
    *parents, leaf = key.split(".")
    section = params
    for part in parents:
        section = section[part]
    section[leaf] = 2**32 - 1
    parse_config(params)  # the largest they take
    section[leaf] = 2**32  # passed every check, then failed in train with a traceback
    with pytest.raises(PipelineError, match=rf"{re.escape(key)}: .*less than 4294967296"):
        parse_config(params)


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize(
    "key",
    [
        "registry.keep_versions",
        "predict.chunk_rows",
        "gate.classification.min_improvement",
        "monitor.wasserstein",
    ],
)
def test_a_number_given_as_true_or_false_is_named(params, key, value):
    """pydantic alone would read `registry.keep_versions=true` as 1, and
    `monitor.wasserstein=true` as 1.0."""
    *groups, name = key.split(".")
    section = params
    for group in groups:
        section = section[group]
    section[name] = value
    with pytest.raises(PipelineError, match=rf"{re.escape(key)}: .*not true or false"):
        parse_config(params)


def _unguarded(annotation, metadata=()) -> bool:
    """A number in this annotation that pydantic would read from true or false."""
    if get_origin(annotation) is Annotated:
        return _unguarded(get_args(annotation)[0], get_args(annotation)[1:])
    if get_origin(annotation) in (Union, UnionType):
        arms = get_args(annotation)
        return bool not in arms and any(_unguarded(arm, metadata) for arm in arms)
    return annotation in (int, float) and NOT_BOOL not in metadata


def _models(cls: type) -> list[type]:
    return [cls] + [m for sub in cls.__subclasses__() for m in _models(sub)]


def test_every_numeric_setting_refuses_true_and_false():
    """The unit tests above try a few keys; this one keeps the next setting from being
    added without the guard."""
    assert len(_models(Strict)) > 20  # every config module imported
    unguarded = [
        f"{model.__name__}.{name}"
        for model in _models(Strict)
        for name, field in model.model_fields.items()
        if _unguarded(field.annotation, field.metadata)
    ]
    assert unguarded == []


def test_missing_required_key_is_named(params):
    del params["train"]["seed"]
    with pytest.raises(PipelineError, match=r"train\.seed: required key is missing"):
        parse_config(params)


def test_unset_value_is_reported(params):
    params["data"]["path"] = "???"
    with pytest.raises(PipelineError, match=r"no value for data\.path \(set KEY=VALUE\)"):
        parse_config(params)


def test_config_is_frozen(params):
    cfg = parse_config(params)
    with pytest.raises(Exception, match="frozen"):
        cfg.split.seed = 1


def test_model_defaults_fill_in(params):
    params["model"] = {"type": "hist_gradient_boosting"}
    assert parse_config(params).model == HistGradientBoostingModel(type="hist_gradient_boosting")


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ({"type": "linear", "class_weight": "balanced_subsample"}, "model.class_weight"),
        ({"type": "random_forest", "loss": "gamma"}, "model.loss"),
        (
            {"type": "hist_gradient_boosting", "validation_fraction": 1.0},
            "model.validation_fraction",
        ),
        ({"type": "hist_gradient_boosting", "loss": "quantile"}, "model"),
    ],
)
def test_bad_task_specific_model_value_is_named(params, model, key):
    params["model"] = model
    with pytest.raises(PipelineError, match=rf"\n  {key}: "):
        parse_config(params)


@pytest.mark.parametrize("ratio", [-0.1, 1.5])
def test_min_class_ratio_is_a_fraction(params, ratio):
    params["validate"]["min_class_ratio"] = ratio
    with pytest.raises(PipelineError, match=r"validate\.min_class_ratio: "):
        parse_config(params)


def test_the_old_absolute_class_share_is_refused_by_name(params):
    params["validate"]["min_class_share"] = 0.1
    with pytest.raises(PipelineError, match=r"min_class_share: unknown key; now validate\.min_"):
        parse_config(params)


def test_missing_params_file(tmp_path):
    with pytest.raises(PipelineError, match="not found"):
        load_config(tmp_path / "params.yaml")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", ""])
def test_non_mapping_yaml(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PipelineError, match="expected a mapping"):
        load_config(path)


def test_invalid_yaml(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("a: [1, 2\n", encoding="utf-8")
    with pytest.raises(PipelineError, match="not valid YAML"):
        load_config(path)


def test_flatten_nested():
    tree = {"a": {"b": {"c": 1}, "d": [1, 2]}, "e": None, "f": {}}
    assert flatten(tree) == {"a.b.c": 1, "a.d": [1, 2], "e": None}


def test_flatten_with_prefix():
    assert flatten({"x": {"y": 2}}, "p.") == {"p.x.y": 2}


def test_bad_candidate_value_names_its_full_key(params):
    """Under model=auto, a candidate named like its type still loses only the union tags."""
    params["model"]["candidates"]["linear"]["alpha"] = -1
    params["model"]["candidates"]["hist_gradient_boosting"]["n_trees"] = 3
    with pytest.raises(PipelineError) as err:
        parse_config(params)
    message = str(err.value)
    assert "\n  model.candidates.linear.alpha: " in message
    assert "\n  model.candidates.hist_gradient_boosting.n_trees: unknown key" in message


def test_bad_auto_value_is_named(params):
    params["model"]["candidates"] = {}
    with pytest.raises(PipelineError, match=r"\n  model.candidates: "):
        parse_config(params)


@pytest.mark.parametrize(
    ("change", "key"),
    [({"folds": 1}, "folds"), ({"holdout": 0.9}, "holdout"), ({"n_jobs": 0}, "n_jobs")],
)
def test_bad_cross_validation_value_is_named(params, change, key):
    params["train"]["cv"].update(change)
    with pytest.raises(PipelineError, match=rf"\n  train.cv.{key}: "):
        parse_config(params)


@pytest.mark.parametrize(
    ("key", "value"),
    [("raw", "../escape.parquet"), ("model", "/tmp/elsewhere.skops"), ("plots", "reports/../..")],
)
def test_an_output_outside_the_project_is_refused(params, tmp_path, monkeypatch, key, value):
    monkeypatch.chdir(tmp_path)
    params["paths"][key] = value
    with pytest.raises(
        PipelineError, match=rf"paths\.{key}={re.escape(value)} \(/.*\) is outside the project"
    ):
        parse_config(params)
    params["paths"]["allow_outside"] = True
    assert getattr(parse_config(params).paths, key) == value


def test_outputs_inside_the_project_are_accepted(params, tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "data").symlink_to(tmp_path / "elsewhere")  # data on another disk
    monkeypatch.chdir(tmp_path / "project")
    params["paths"]["raw"] = "data/raw.parquet"
    params["paths"]["model"] = str(tmp_path / "project" / "models" / "model.skops")
    params["paths"]["schema"] = "models/../models/schema.json"
    assert parse_config(params).paths.raw == "data/raw.parquet"


def test_the_project_of_a_queued_experiment_is_its_copy(params, tmp_path, monkeypatch):
    """DVC runs a queued experiment in a copy under .dvc/tmp/exps/ with DVC_ROOT set to
    the repository: `../x` from the copy is still under DVC_ROOT, but outside the copy."""
    copy = tmp_path / ".dvc" / "tmp" / "exps" / "run"
    copy.mkdir(parents=True)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.chdir(copy)
    params["paths"]["raw"] = "../escape.parquet"
    with pytest.raises(PipelineError, match=r"paths\.raw=\.\./escape\.parquet"):
        parse_config(params)


@pytest.mark.parametrize("column", ["model_version", "prediction", "row_number", "proba_1"])
def test_a_passthrough_column_named_as_a_table_column_is_refused(params, column):
    """The table would get two columns of that name: refused at load, not as a KeyError
    once the batch is scored."""
    params["predict"]["passthrough_columns"] = ["customer_id", column]
    with pytest.raises(PipelineError) as err:
        parse_config(params)
    line = next(x for x in str(err.value).splitlines() if "passthrough_columns" in x)
    assert line.startswith("  predict.passthrough_columns:") and f"'{column}'" in line
    assert "customer_id'" not in line.split("(got")[0]


def test_a_passthrough_column_named_twice_is_refused(params):
    params["predict"]["passthrough_columns"] = ["customer_id", "customer_id"]
    with pytest.raises(PipelineError, match=r"predict\.passthrough_columns: .*'customer_id'"):
        parse_config(params)


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("a/b", "holds /"),
        ("a:b", "holds :"),
        ("it's", "holds '"),
        (" churn", "a space"),
        ("..", "not a name MLflow registers"),
    ],
)
def test_a_model_name_the_registry_cannot_take_is_named(params, name, said):
    """MLflow refused a/b only when promote registered it (its dry run passed); a quote
    broke the registry's searches with MLflow's traceback."""
    params["registry"]["model_name"] = name
    with pytest.raises(PipelineError, match=rf"registry\.model_name: .*{said}"):
        parse_config(params)
    params["registry"]["model_name"] = "Churn model v2.1_b"
    parse_config(params)
