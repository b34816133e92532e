from __future__ import annotations

import subprocess
import sys
import time

import pytest

from mlops_template.config import parse_config
from mlops_template.stages.runner import select, stage_params

TREE = {"data": {"target": "y", "task": "auto", "extra": {"k": 1}}, "split": {"seed": 1}}


def test_select_top_level():
    assert select(TREE, "split") == {"split": {"seed": 1}}


def test_select_dotted_keeps_full_path():
    assert select(TREE, "data.target") == {"data": {"target": "y"}}
    assert select(TREE, "data.extra.k") == {"data": {"extra": {"k": 1}}}


def test_select_unknown_key():
    with pytest.raises(KeyError):
        select(TREE, "data.nope")


def test_stage_params_flattens_declared_keys(params):
    params["validate"] = {"min_rows": 5, "max_classes": 9, "min_class_share": 0.2}
    params["data"]["target"] = "label"
    cfg = parse_config(params)
    assert stage_params(cfg, ("data.target", "validate")) == {
        "data.target": "label",
        "validate.min_rows": 5,
        "validate.max_classes": 9,
        "validate.min_class_share": 0.2,
        "validate.target_copies": "error",  # a default, logged like any value
    }


def test_stage_params_uses_aliases_and_defaults(params):
    params["model"] = {"type": "linear"}
    cfg = parse_config(params)
    assert stage_params(cfg, ("model",)) == {
        "model.type": "linear",
        "model.alpha": 1.0,
        "model.max_iter": 1000,
        "model.class_weight": None,
    }
    assert "paths.schema" in stage_params(cfg, ("paths",))


def test_stage_params_empty(params):
    assert stage_params(parse_config(params), ()) == {}


SINCE_START = """
import time
time.sleep(1.0)
from mlops_template.stages.runner import _seconds_since_start
print(_seconds_since_start())
"""


def test_time_since_process_start_lies_within_the_process_lifetime():
    """Between the sleep it did and the wall time of the whole process, as seen from
    outside: a start time taken from the boot time in whole seconds can be a second early."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SINCE_START], capture_output=True, text=True, check=True
    )
    wall = time.monotonic() - started
    assert 1.0 <= float(done.stdout) <= wall + 0.02  # /proc counts in 10 ms steps
