"""rollback: point `champion` back at the previous champion (or a given version)."""

from __future__ import annotations

import sys

from mlops_template.config import Config
from mlops_template.core.champion_history import rollback_target
from mlops_template.errors import PipelineError
from mlops_template.io import registry


def rollback(cfg: Config, to: str | None) -> int:
    from mlops_template.io.tracking import experiment_id

    client = registry.connect()
    name = cfg.registry.model_name
    with registry.registry_lock():
        current = registry.alias_version(client, name, registry.CHAMPION)
        if current is None:
            raise PipelineError(f"{name} has no champion to roll back")
        experiment = experiment_id(client, cfg.tracking.operations_experiment)
        target = to or rollback_target(registry.events(client, name), current)
        if target is None:
            raise PipelineError(
                f"no earlier champion of {name} in the promotion history (champion is "
                f"v{current}); name one with --to VERSION"
            )
        if not registry.has_version(client, name, target):
            raise PipelineError(f"{name} has no version {target}")
        if target == current:
            raise PipelineError(f"v{target} is already the champion of {name}")
        registry.move_champion(
            client, experiment, name, target, action="rollback", extra={"from": current}
        )
    print(f"rolled back: {name} champion v{current} -> v{target}", file=sys.stderr)
    return 0
