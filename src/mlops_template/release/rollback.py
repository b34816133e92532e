"""rollback: point `champion` back at the previous champion (or a given version)."""

from __future__ import annotations

import json
import sys

from mlops_template.config import Config
from mlops_template.core.champion_history import rollback_target
from mlops_template.errors import PipelineError
from mlops_template.io import model_versions, registry


def rollback(cfg: Config, to: str | None, force: bool = False) -> int:
    from mlops_template.io.tracking import experiment_id

    client = registry.connect()
    name = cfg.registry.model_name
    with registry.registry_lock(client, name) as lock:
        current = registry.alias_version(client, name, registry.CHAMPION)
        if current is None:
            raise PipelineError(f"{name} has no champion to roll back")
        experiment = experiment_id(client, cfg.tracking.operations_experiment)
        target = _version(to) if to else rollback_target(registry.events(client, name), current)
        if target is None:
            raise PipelineError(
                f"no earlier champion of {name} in the promotion history (champion is "
                f"v{current}; versions rolled back from are skipped): name one with --to VERSION"
            )
        if not registry.has_version(client, name, target):
            raise PipelineError(f"{name} has no version {target}")
        if target == current:
            raise PipelineError(f"v{target} is already the champion of {name}")
        tags = client.get_model_version(name, target).tags
        refused = gate_refusal(tags)
        if not to and refused is None and tags.get("gate.decision") != "promoted":
            # The history is runs anyone who may create runs can add, consistent ones too:
            # a version it names must also be one the gate crowned (a registry tag).
            raise PipelineError(
                f"v{target} of {name}, the champion before v{current} in the promotion "
                "history, was never promoted by the gate (its gate.decision tag): the history "
                f"may hold event runs added by hand; `rollback --to {target}` crowns it if that "
                "is right"
            )
        if refused is not None and not force:
            raise PipelineError(
                f"v{target} of {name} was refused by the gate ({refused}); "
                f"`rollback --to {target} --force` crowns it anyway"
            )
        # As serve and predict would load it: files gone or refused crown nothing.
        model_versions.load_version(client, model_versions.ModelRef(name, target, ""))
        extra = {"from": current, **({"forced": refused} if refused else {})}
        lock.confirm()
        registry.move_champion(client, experiment, name, target, action="rollback", extra=extra)
    said = f" (refused by the gate: {refused}; crowned with --force)" if refused else ""
    print(f"rolled back: {name} champion v{current} -> v{target}{said}", file=sys.stderr)
    print(f"note: {registry.RUNNING_SERVERS}", file=sys.stderr)
    return 0


def _version(given: str) -> str:
    """--to 3, v3 or 03 as the registry writes it (3): the history compares it as text."""
    number = given.strip().removeprefix("v")
    if not number.isdigit():
        raise PipelineError(f"rollback --to {given}: not a version number (as in --to 3)")
    return str(int(number))


def gate_refusal(tags: dict[str, str]) -> str | None:
    """The failed checks of a version the gate refused (from its gate.* tags), or None
    when it passed or never met the gate."""
    if tags.get("gate.decision") != "refused":
        return None
    failed = [
        key.removeprefix("gate.")
        for key, value in sorted(tags.items())
        if key.startswith("gate.") and key != "gate.decision" and not json.loads(value)["passed"]
    ]
    return "failed: " + ", ".join(failed) if failed else "refused"
