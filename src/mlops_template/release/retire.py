"""retire: archive old registry versions that hold no alias.

Archiving tags a version `archived=true`; `--delete` also deletes it from the registry.
Deleting a version frees no storage by itself: its model stays with the run that logged
it until that run is deleted and `mlflow gc` runs. DVC's copies of old model files stay
in `.dvc/cache` until `dvc gc` removes what no kept commit or experiment refers to.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from mlops_template.config import Config
from mlops_template.core.champion_history import rollback_target
from mlops_template.io import registry


def retire(cfg: Config, dry_run: bool, delete: bool) -> int:
    client = registry.connect()
    name = cfg.registry.model_name
    keep = cfg.registry.keep_versions
    with registry.registry_lock(client, name) as lock:
        versions = sorted(
            registry.all_versions(client, name),
            key=lambda v: int(v.version),
            reverse=True,
        )
        aliased = registry.aliased_versions(client, name) if versions else set()
        # The version `rollback` returns to: deleted, it left rollback nothing (CT trial).
        back_to = _rollback_target(client, name) if versions else None
        retiring = [
            v
            for v in versions[keep:]
            if str(v.version) not in {*aliased, back_to}
            and (delete or v.tags.get("archived") != "true")
        ]
        if not dry_run and retiring:
            lock.confirm()
            for version in retiring:
                client.set_model_version_tag(name, version.version, "archived", "true")
                client.set_model_version_tag(
                    name, version.version, "archived_at", str(int(time.time() * 1000))
                )
                client.set_model_version_tag(name, version.version, "archived_by", registry.actor())
                if delete:
                    client.delete_model_version(name, version.version)
    summary = {
        "model_name": name,
        "keep_versions": keep,
        "kept": [str(v.version) for v in versions if v not in retiring],
        "rollback_target": back_to,
        "deleted" if delete else "archived": [str(v.version) for v in retiring],
        "dry_run": dry_run,
    }
    print(json.dumps(summary, indent=2))  # for scripts; the verdict for people:
    print(_verdict(summary, versions, retiring, dry_run, delete), file=sys.stderr)
    return 0


def _rollback_target(client: Any, name: str) -> str | None:
    champion = registry.alias_version(client, name, registry.CHAMPION)
    return rollback_target(registry.events(client, name), champion) if champion else None


def _verdict(summary: dict, versions: list, retiring: list, dry_run: bool, delete: bool) -> str:
    """One line for people: what went, what stays, and what an earlier run archived."""
    earlier = [
        f"v{v.version}"
        for v in versions
        if v.tags.get("archived") == "true" and str(v.version) in summary["kept"]
    ]
    kept = [f"v{v}" for v in summary["kept"] if f"v{v}" not in earlier]
    did = "delete" if delete else "archive"
    did = f"would {did}" if dry_run else f"{did}d"
    why = f"the newest {summary['keep_versions']}, and any with an alias"
    if back_to := summary["rollback_target"]:
        why = why.replace(", and", ",") + f", and v{back_to}, which rollback returns to"
    line = (
        f"retire: {did} {', '.join(f'v{v.version}' for v in retiring) or 'no version'} of "
        f"{summary['model_name']}; kept {', '.join(kept) or 'none'} ({why})"
    )
    return line + (f"; archived before: {', '.join(earlier)}" if earlier else "")
