"""`conf/` is the source, `params.yaml` its composition.

Composition goes through DVC's own Hydra code (the one `dvc exp run -S` uses), so the
file written here is byte for byte what DVC would write for the same overrides.
"""

from __future__ import annotations

import difflib
import tempfile
from pathlib import Path

import yaml

from mlops_template.config import PARAMS_FILE, parse_config
from mlops_template.errors import PipelineError

CONF_DIR = "conf"
CONFIG_NAME = "config"


def compose_text(root: Path, overrides: list[str]) -> str:
    """Return the composed config for `overrides` as the YAML DVC would write."""
    from dvc.utils.hydra import compose_and_dump
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    conf_dir = (root / CONF_DIR).resolve()
    if not conf_dir.is_dir():
        raise PipelineError(f"{conf_dir}: config folder not found")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / PARAMS_FILE
        try:
            compose_and_dump(out, str(conf_dir), None, CONFIG_NAME, "", overrides)
        except (HydraException, OmegaConfBaseException) as err:
            raise PipelineError(f"cannot compose {CONF_DIR}/ with {overrides}: {err}") from None
        text = out.read_text(encoding="utf-8")
    # Validate before anything is written: a bad override fails here, naming the key.
    parse_config(yaml.safe_load(text), f"{CONF_DIR}/ with overrides {overrides}")
    return text


def write_params(root: Path, overrides: list[str]) -> Path:
    """Recompose `params.yaml` from `conf/` (atomically) and return its path."""
    from mlops_template.io.atomic import write_text

    target = root / PARAMS_FILE
    write_text(target, compose_text(root, overrides))
    return target


def set_params(root: Path, updates: dict[str, object]) -> Path:
    """Change keys of the current `params.yaml` in place (whatever composed it), written
    the way DVC writes a composition; the result is validated before it is written."""
    from omegaconf import OmegaConf

    from mlops_template.io.atomic import write_text

    target = root / PARAMS_FILE
    params = OmegaConf.load(target)
    for key, value in updates.items():
        OmegaConf.update(params, key, value, merge=False)
    text = OmegaConf.to_yaml(params)
    parse_config(yaml.safe_load(text), f"{PARAMS_FILE} with {updates}")
    write_text(target, text)
    return target


def group_option_file(root: Path, group: str) -> Path:
    """The file of the option conf/config.yaml selects for a config group."""
    config = yaml.safe_load((root / CONF_DIR / f"{CONFIG_NAME}.yaml").read_text())
    options = [d[group] for d in config.get("defaults", []) if isinstance(d, dict) and group in d]
    if not options:
        raise PipelineError(f"{CONF_DIR}/{CONFIG_NAME}.yaml selects no option for '{group}'")
    return root / CONF_DIR / group / f"{options[0]}.yaml"


def set_in_conf(root: Path, group: str, key: str, value: object) -> Path:
    """Set a top-level key of a group's selected option in conf/, comments kept, so that
    `params.yaml` changed the same way stays what conf/ composes to."""
    import io

    from ruamel.yaml import YAML

    from mlops_template.io.atomic import write_text

    target = group_option_file(root, group)
    round_trip = YAML()
    data = round_trip.load(target.read_text())
    data[key] = value
    text = io.StringIO()
    round_trip.dump(data, text)
    write_text(target, text.getvalue())
    return target


def stale_diff(root: Path) -> str:
    """A unified diff of `params.yaml` against a fresh composition; empty when up to date."""
    target = root / PARAMS_FILE
    current = target.read_text(encoding="utf-8") if target.exists() else ""
    fresh = compose_text(root, [])
    return "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            fresh.splitlines(keepends=True),
            f"{PARAMS_FILE} (on disk)",
            f"{PARAMS_FILE} (composed from {CONF_DIR}/)",
        )
    )
