"""`conf/` is the source, `params.yaml` its composition.

Composition goes through DVC's own Hydra code (the one `dvc exp run -S` uses), so the
file written here is byte for byte what DVC would write for the same overrides.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from mlops_template.config import PARAMS_FILE, parse_config
from mlops_template.errors import PipelineError, redact

CONF_DIR = "conf"
CONFIG_NAME = "config"
# Set by DVC for the stages of `dvc exp run`.
DVC_EXPERIMENT_ENV = "DVC_EXP_NAME"
_MISSING = object()


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
        text = out.read_text(encoding="utf-8")
    # Validate before anything is written: a bad override fails here, naming the key.
    parse_config(yaml.safe_load(text), where or f"{CONF_DIR}/ with overrides {overrides}")
    return text


def write_params(root: Path, overrides: list[str]) -> Path:
    """Recompose `params.yaml` from `conf/` (atomically) and return its path."""
    from mlops_template.io.atomic import write_text

    target = root / PARAMS_FILE
    write_text(target, compose_text(root, overrides))
    return target


def group_option_file(root: Path, group: str) -> Path:
    """The file of the option conf/config.yaml selects for a config group."""
    config = yaml.safe_load((root / CONF_DIR / f"{CONFIG_NAME}.yaml").read_text())
    options = [d[group] for d in config.get("defaults", []) if isinstance(d, dict) and group in d]
    if not options:
        raise PipelineError(f"{CONF_DIR}/{CONFIG_NAME}.yaml selects no option for '{group}'")
    return root / CONF_DIR / group / f"{options[0]}.yaml"


def apply_to_conf(root: Path, overrides: list[str]) -> None:
    """Write Hydra overrides into conf/ itself, comments kept: `group=option` changes the
    defaults list, `group.key=value` the selected option's file. Then `params.yaml`
    recomposed from conf/ is what the overrides give, and stays what conf/ composes to."""
    import io

    from hydra.core.override_parser.overrides_parser import OverridesParser
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.representer import RoundTripRepresenter

    from mlops_template.io.atomic import write_text

    class Representer(RoundTripRepresenter):  # its own table: the class's is shared
        pass

    Representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    round_trip = YAML()
    round_trip.Representer = Representer
    round_trip.preserve_quotes = True
    round_trip.indent(mapping=2, sequence=4, offset=2)  # conf/'s own style: "  - item"
    for override in OverridesParser.create().parse_overrides(overrides):
        group, _, key = override.key_or_group.partition(".")
        if not (root / CONF_DIR / group).is_dir():
            raise PipelineError(f"override {override.input_line}: no config group '{group}'")
        target = (
            root / CONF_DIR / f"{CONFIG_NAME}.yaml" if not key else group_option_file(root, group)
        )
        data = round_trip.load(target.read_text())
        if not key:
            node, leaf = (
                next(d for d in data["defaults"] if isinstance(d, dict) and group in d),
                group,
            )
        else:
            *parents, leaf = key.split(".")
            node = data
            for part in parents:  # a key under a candidate may not be in the file yet
                node = node.setdefault(part, CommentedMap())
        if leaf in node and node[leaf] == override.value():
            continue  # already so: the file stays as it is, byte for byte
        old = node.get(leaf)
        after = _comment_after(old)
        node[leaf] = _styled(override.value(), old)
        if isinstance(old, list) and leaf in node.ca.items:
            node.ca.items[leaf][3] = None  # the old first item's comment, kept on the key
        following = list(node)[list(node).index(leaf) + 1 :]
        if after and following:  # the next key's comment, which ruamel kept on the list
            depth = len(key.split(".")) - 1 if key else 1
            node.yaml_set_comment_before_after_key(following[0], before=after, indent=2 * depth)
        text = io.StringIO()
        round_trip.dump(data, text)
        write_text(target, text.getvalue())


def _styled(value: Any, old: Any, inner: bool = False) -> Any:
    """`value` as conf/ writes it: a list inside a list in flow style (`- [a, b]`, as
    ct.tries), a list replacing one in the old one's style (`[]` is flow)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        return CommentedMap({k: _styled(v, None, inner) for k, v in value.items()})
    if not isinstance(value, list):
        return value
    node = CommentedSeq(_styled(v, None, inner=True) for v in value)
    if (old.fa.flow_style() or not old) if isinstance(old, CommentedSeq) else inner:
        node.fa.set_flow_style()
    return node


def _comment_after(old: Any) -> str:
    """The comment lines below a block list, which stand above the next key: ruamel keeps
    them on the list (after its last item's own end-of-line comment, or at its end)."""
    from ruamel.yaml.comments import CommentedSeq

    if not isinstance(old, CommentedSeq) or not old or old.fa.flow_style():
        return ""
    last = old.ca.items.get(len(old) - 1)
    lines = last[0].value.partition("\n")[2].splitlines() if last and last[0] else []
    lines += [line for token in old.ca.end or [] for line in token.value.splitlines()]
    return "\n".join(
        line.strip().removeprefix("#").removeprefix(" ") for line in lines if line.strip()
    )


def overrides_to(root: Path, wanted_text: str) -> list[str] | None:
    """Overrides that, written into conf/ (`params set`), make conf/ compose to
    `wanted_text` (an applied experiment's params.yaml), byte for byte: for a group that
    differs, the option nearest to it (the one chosen now on a tie), then each value that
    still differs. Tried on a copy of conf/ first; None where none give it exactly (a key
    the experiment removed, a value an override or conf/'s YAML cannot say as it is)."""
    from mlops_template.config import flatten

    def composed(overrides: list[str]) -> dict[str, Any]:
        return yaml.safe_load(compose_text(root, overrides))

    wanted, now = yaml.safe_load(wanted_text), composed([])
    chosen: list[str] = []
    for group in sorted(g for g in wanted if now.get(g) != wanted[g]):
        if not (root / CONF_DIR / group).is_dir():
            continue
        current = group_option_file(root, group).stem
        options = {current, *(p.stem for p in (root / CONF_DIR / group).glob("*.yaml"))}
        distances = {}
        for option in sorted(options):
            try:
                tree = now if option == current else composed([f"{group}={option}"])
            except PipelineError:
                # An option that needs settings of its own (data=csv) or lacks a required
                # key: every composition that passes the check has each group.
                continue
            distances[option] = _differing(flatten(tree[group]), flatten(wanted[group]))
        nearest = min(distances, key=lambda option: (distances[option], option != current))
        if nearest != current:
            chosen.append(f"{group}={nearest}")
    near, goal = flatten(composed(chosen)), flatten(wanted)
    if set(near) - set(goal):
        return None
    # ++: a key the option does not have yet (apply_to_conf adds it). No spaces in a
    # value: an override is one word.
    values = [
        f"{'' if key in near else '++'}{key}="
        + json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        for key, value in goal.items()
        if key not in near or near[key] != value
    ]
    overrides = chosen + values
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(root / CONF_DIR, Path(tmp) / CONF_DIR)
        try:
            apply_to_conf(Path(tmp), overrides)
            kept = compose_text(Path(tmp), [])
        except PipelineError:
            return None
    return overrides if kept == wanted_text else None


def _differing(one: dict[str, Any], other: dict[str, Any]) -> int:
    return sum(one.get(key, _MISSING) != other.get(key, _MISSING) for key in {*one, *other})


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


def params_command(root: Path, action: str, overrides: list[str]) -> int:
    """`params check|set|compose`: is params.yaml conf/'s composition; overrides into conf/
    itself; params.yaml composed with overrides."""
    if action == "check":
        diff = stale_diff(root)
        if diff:
            sys.stdout.write(diff)
            raise PipelineError(
                "params.yaml is stale: conf/ composes to something else "
                "(run `make params` and commit the result)"
            )
        print("params.yaml is up to date with conf/")
        return 0
    overrides = split_overrides(overrides)
    if action == "set":  # into conf/ itself: the overrides become the source
        compose_text(root, overrides)  # validated before conf/ is touched
        apply_to_conf(root, overrides)
        overrides = []
    path = write_params(root, overrides)
    print(f"wrote {path.name} from conf/ {redact(' '.join(overrides))}".rstrip())
    return 0


def split_overrides(values: list[str]) -> list[str]:
    """Hydra overrides from arguments. `mlflow run -P overrides="a=1 b=2"` passes one
    argument holding several, so each is split on whitespace outside quotes; the quotes
    stay, as Hydra's grammar needs them (`predict.spark.master='local[2]'`)."""
    return [item for value in values for item in _split_words(value)]


def _split_words(value: str) -> list[str]:
    words = re.findall(r"""(?:[^\s'"]+|'[^']*'|"[^"]*")+""", value)
    quotes = sum(word.count("'") + word.count('"') for word in words)
    if quotes != value.count("'") + value.count('"'):  # a quote left open was dropped
        raise PipelineError(f"unbalanced quotes in overrides: {value}")
    return words
