"""Writing into `conf/` itself, comments kept: `params set`, and the overrides that make
conf/ compose to a given params.yaml (an applied experiment's, a CT try's)."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from mlops_template.compose import (
    CONF_DIR,
    CONFIG_NAME,
    compose_text,
    group_option_file,
    split_overrides,
    stale_diff,
    unreadable_file,
    write_params,
)
from mlops_template.config import PARAMS_FILE
from mlops_template.errors import PipelineError, redact
from mlops_template.io.workspace_lock import workspace_locked

_MISSING = object()


def params_command(root: Path, action: str, overrides: list[str]) -> int:
    """`params check|set|compose|keep`: is params.yaml conf/'s composition; overrides into
    conf/ itself; params.yaml composed with overrides; params.yaml's settings into conf/."""
    if action == "check":
        diff = stale_diff(root)
        if diff:
            sys.stdout.write(diff)
            raise PipelineError(
                "params.yaml is stale: conf/ composes to something else: `make params` "
                "composes it from conf/ again, or, to keep what params.yaml holds (an "
                "experiment `dvc exp apply` or `dvc exp branch` brought), `python -m "
                "mlops_template params keep` writes it into conf/; then commit the result"
            )
        print("params.yaml is up to date with conf/")
        return 0
    if action == "keep":
        with workspace_locked("params keep"):
            kept = keep_params(root, f"{PARAMS_FILE} as it is")
            print(f"wrote into conf/: {' '.join(kept)}" if kept else "conf/ composes to it already")
            if kept:
                _check_params_again(root)
        return 0
    overrides = split_overrides(overrides)
    # Not while ct retrains here: it rewrites conf/ and params.yaml per try, then keeps
    # or restores them, an edit made meanwhile with them.
    with workspace_locked(f"params {action}"):
        if action == "set":  # into conf/ itself: the overrides become the source
            apply_to_conf(root, overrides)
            print(f"wrote {PARAMS_FILE} from conf/")
            return 0
        path = write_params(root, overrides)
    print(f"wrote {path.name} from conf/ {redact(' '.join(overrides))}".rstrip())
    return 0


def _check_params_again(root: Path, stage: str = "check_params") -> None:
    """dvc.lock told of the conf/ that now composes to params.yaml: its first stage run on
    them (a second or two; the others stay cached), else a commit holds a dvc.lock stale
    against conf/ (a team trial: `reproduce` then named `params: conf` as changed)."""
    import subprocess

    dvc_yaml = root / "dvc.yaml"
    stages = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8")) if dvc_yaml.is_file() else {}
    if stage not in (stages or {}).get("stages", {}):
        return  # not this template's pipeline
    try:
        checked = subprocess.run(
            ["dvc", "repro", "--single-item", "--quiet", stage], cwd=root, check=False
        ).returncode
    except OSError as err:  # no dvc here
        checked = str(err)
    if checked:
        print(
            f"note: `dvc repro {stage}` failed ({checked}): run it before you commit",
            file=sys.stderr,
        )


def keep_params(root: Path, what: str, state: str = "nothing was changed") -> list[str]:
    """params.yaml as it is made conf/'s composition: the overrides of conf/ that give it,
    written into conf/; returned. `what` names it in the error when none can say it,
    `state` says what the workspace then holds."""
    text = (root / PARAMS_FILE).read_text(encoding="utf-8")
    overrides = params_overrides(root, text, what, state)
    apply_to_conf(root, overrides)  # conf/ composes to params.yaml, written after it
    return overrides


def params_overrides(
    root: Path, text: str, what: str, state: str = "nothing was changed"
) -> list[str]:
    """The overrides of conf/ that compose to `text`; refused where none can."""
    overrides = overrides_to(root, text)
    if overrides is None:
        raise PipelineError(
            f"no overrides of conf/ compose to {what} (a key it removed, or a value an "
            "override cannot say): put its settings into conf/ by hand (docs/experiments.md, "
            f"Configuration); {state}"
        )
    return overrides


def apply_to_conf(root: Path, overrides: list[str]) -> str:
    """Write Hydra overrides into conf/ itself, comments kept: `group=option` changes the
    defaults list, `group.key=value` the selected option's file, `~group.key` removes the
    key; then `params.yaml` recomposed: what the overrides give, and what conf/ composes
    to. Written on a copy of conf/ first, and refused with conf/ untouched unless the
    copy composes to what the overrides give (not so for a package override,
    `+group@key=option`, or a value conf/'s YAML would read otherwise). A stop (Ctrl-C,
    SIGTERM) waits while the changed files and params.yaml are written. Returns the
    params.yaml text."""
    from mlops_template import stop_signals
    from mlops_template.config import flatten
    from mlops_template.io.atomic import write_text

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        shutil.copytree(root / CONF_DIR, copy / CONF_DIR)
        _write_overrides(copy, overrides)
        wanted = compose_text(root, _adding(overrides))
        try:
            kept = compose_text(copy, [], f"{CONF_DIR}/ with {overrides} written into it")
        except PipelineError as err:
            raise PipelineError(f"{err}; nothing in {CONF_DIR}/ was changed") from None
        if kept != wanted:
            one, other = flatten(yaml.safe_load(kept)), flatten(yaml.safe_load(wanted))
            differ = _differing(one, other)
            listed = any("@" in o.partition("=")[0] or o.startswith("~") for o in overrides)
            where = (
                ": an option placed under a key (`+group@key=option`, or removed with `~key`) "
                "is an entry of a defaults list, in the file that holds it (model=auto's "
                "candidates: conf/model/auto.yaml)"
                if listed
                else ""
            )
            raise PipelineError(
                f"{' '.join(overrides)} cannot be written into {CONF_DIR}/ as it is: "
                f"{CONF_DIR}/ would compose to other values for {', '.join(differ[:5])}; "
                f"nothing in {CONF_DIR}/ was changed: edit it by hand{where}, or give the "
                "override to `params compose` or `dvc exp run -S` for one run"
            )
        written = sorted((copy / CONF_DIR).rglob("*.yaml"))
        changed = [
            (root / file.relative_to(copy), file.read_text(encoding="utf-8"))
            for file in written
            if file.read_bytes() != (root / file.relative_to(copy)).read_bytes()
        ]
    with stop_signals.deferred():
        for target, text in changed:
            write_text(target, text)
        write_text(root / PARAMS_FILE, wanted)
    return wanted


def _adding(overrides: list[str]) -> list[str]:
    """The overrides as written into conf/, where a key the option's file lacks is added
    (`engine.spark.conf={...}`): Hydra adds it with `++` only."""
    from hydra.core.override_parser.types import OverrideType

    return [
        f"++{o.input_line}"
        if o.type == OverrideType.CHANGE and "." in o.key_or_group and o.package is None
        else o.input_line
        for o in _parsed(overrides)
    ]


def _parsed(overrides: list[str]) -> list[Any]:
    """Hydra's reading of the overrides; one that its grammar refuses, named."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        return OverridesParser.create().parse_overrides(overrides)
    except HydraException as err:
        odd = any(c.isspace() or not c.isascii() for o in overrides for c in o)
        hint = " (quote such a value, the override in double quotes: \"key='Zoë'\")" if odd else ""
        raise PipelineError(
            f"cannot read the overrides {overrides}: {str(err).splitlines()[0]}{hint}"
        ) from None


def _write_overrides(root: Path, overrides: list[str]) -> None:
    """apply_to_conf's edits, made in the conf/ under `root`."""
    import io

    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    from mlops_template.io import yaml_edits
    from mlops_template.io.atomic import write_text

    round_trip = yaml_edits.round_trip()
    for override in _parsed(overrides):
        group, _, key = override.key_or_group.partition(".")
        if not (root / CONF_DIR / group).is_dir():
            raise PipelineError(f"override {override.input_line}: no config group '{group}'")
        target = (
            root / CONF_DIR / f"{CONFIG_NAME}.yaml" if not key else group_option_file(root, group)
        )
        try:
            data = round_trip.load(target.read_text())
        except YAMLError:  # named as compose names it (a merge conflict, say)
            raise PipelineError(unreadable_file(root / CONF_DIR) or f"{target}: not YAML") from None
        if not key:
            if override.is_delete():  # a group's option is not removed here (refused
                continue  # by the check of what conf/ composes to)
            entry = next(d for d in data["defaults"] if isinstance(d, dict) and group in d)
            path = [(entry, group)]
        else:
            *parents, leaf = key.split(".")
            path, node = [], data
            for part in parents:  # a key under a candidate may not be in the file yet
                path.append((node, part))
                node = node.setdefault(part, CommentedMap())
            path.append((node, leaf))
        if override.is_delete():
            changed = yaml_edits.remove(path)
        else:
            changed = yaml_edits.set_value(path, override.value())
        if changed:  # else already so: the file stays as it is, byte for byte
            text = io.StringIO()
            round_trip.dump(data, text)
            write_text(target, text.getvalue())


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
            distances[option] = len(_differing(flatten(tree[group]), flatten(wanted[group])))
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


def _differing(one: dict[str, Any], other: dict[str, Any]) -> list[str]:
    return sorted(k for k in {*one, *other} if one.get(k, _MISSING) != other.get(k, _MISSING))
