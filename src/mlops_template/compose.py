"""`conf/` is the source, `params.yaml` its composition.

Composition goes through DVC's own Hydra code (the one `dvc exp run -S` uses), so the
file written here is byte for byte what DVC would write for the same overrides.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from pathlib import Path

import yaml

from mlops_template.config import PARAMS_FILE, parse_config
from mlops_template.errors import CONFLICT, PipelineError, conflict_line

CONF_DIR = "conf"
CONFIG_NAME = "config"
# Set by DVC for the stages of `dvc exp run`.
DVC_EXPERIMENT_ENV = "DVC_EXP_NAME"


def compose_text(root: Path, overrides: list[str], where: str = "") -> str:
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
            raise PipelineError(
                f"{where + ': ' if where else ''}cannot compose {CONF_DIR}/ with {overrides}: {err}"
            ) from None
        except yaml.YAMLError as err:  # Hydra reads conf/'s files without a word on which
            raise PipelineError(unreadable_file(conf_dir) or f"{CONF_DIR}/: {err}") from None
        text = out.read_text(encoding="utf-8")
    # Validate before anything is written: a bad override fails here, naming the key.
    parse_config(yaml.safe_load(text), where or f"{CONF_DIR}/ with overrides {overrides}")
    return text


def unreadable_file(conf_dir: Path) -> str | None:
    """The first file of conf/ that is not YAML, where and why (a merge conflict left in
    it, as `copier update` or `git merge` leave one, named as such); None if all are."""
    for path in sorted(conf_dir.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as err:
            where = f"{CONF_DIR}/{path.relative_to(conf_dir).as_posix()}"
            if line := conflict_line(text):
                return f"{where}, line {line}: {CONFLICT}"
            mark = getattr(err, "problem_mark", None)
            where += f", line {mark.line + 1}" if mark else ""
            return f"{where}: not YAML: {getattr(err, 'problem', None) or err}"
    return None


def write_params(root: Path, overrides: list[str]) -> Path:
    """Recompose `params.yaml` from `conf/` (atomically) and return its path."""
    from mlops_template.io.atomic import write_text

    target = root / PARAMS_FILE
    write_text(target, compose_text(root, overrides))
    return target


def group_option_file(root: Path, group: str) -> Path:
    """The file of the option conf/config.yaml selects for a config group."""
    try:
        config = yaml.safe_load((root / CONF_DIR / f"{CONFIG_NAME}.yaml").read_text())
    except yaml.YAMLError:
        raise PipelineError(unreadable_file(root / CONF_DIR) or "conf/ is not YAML") from None
    options = [d[group] for d in config.get("defaults", []) if isinstance(d, dict) and group in d]
    if not options:
        raise PipelineError(f"{CONF_DIR}/{CONFIG_NAME}.yaml selects no option for '{group}'")
    return root / CONF_DIR / group / f"{options[0]}.yaml"


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


def refuse_stale(root: Path) -> None:
    """Stop when conf/ was edited after params.yaml was composed and composes to something
    else: `dvc repro` would run on the old config without a word. Cheap when nothing
    changed (file times); exact when something did (a fresh composition, compared).
    Under `dvc exp run` params.yaml is DVC's composition with the run's -S overrides,
    which no composition here could know, so it is not checked."""
    if os.environ.get(DVC_EXPERIMENT_ENV):
        return
    composed = (root / PARAMS_FILE).stat().st_mtime_ns
    edited = sorted(
        p.relative_to(root).as_posix()
        for p in (root / CONF_DIR).rglob("*.yaml")
        if p.stat().st_mtime_ns > composed
    )
    if edited and stale_diff(root):
        raise PipelineError(
            f"{PARAMS_FILE} is stale: {', '.join(edited[:3])} changed since it was composed; "
            f"run `make params` (or `make run`, which composes first), then `dvc repro`"
        )


def split_overrides(values: list[str]) -> list[str]:
    """Hydra overrides from arguments. `mlflow run -P overrides="a=1 b=2"` passes one
    argument holding several, so each is split on whitespace outside quotes; the quotes
    stay, as Hydra's grammar needs them (`predict.spark.master='local[2]'`). A word that
    is no override of its own (no `=`, `~` or `+`) belongs to the value before it, as
    Hydra reads `key=Small data only` ('data' was refused as an override); a value with
    such a word (`a=b`, `+5%`) needs its quotes: "key='costs +5% where a=b'"."""
    return [item for value in values for item in _split_words(value)]


def _split_words(value: str) -> list[str]:
    words = list(re.finditer(r"""(?:[^\s'"]+|'[^']*'|"[^"]*")+""", value))
    quotes = sum(word[0].count("'") + word[0].count('"') for word in words)
    if quotes != value.count("'") + value.count('"'):  # a quote left open was dropped
        raise PipelineError(f"unbalanced quotes in overrides: {value}")
    spans: list[list[int]] = []
    for word in words:
        if spans and "=" not in word[0] and not word[0].startswith(("~", "+")):
            spans[-1][1] = word.end()  # the value goes on, its spaces as they were
        else:
            spans.append([word.start(), word.end()])
    return [value[start:end] for start, end in spans]
