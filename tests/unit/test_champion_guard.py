"""Which requests the team server refuses to all but CI (release/champion_guard.py), by
path and parameters; the server itself is tests/e2e/test_team_roles.py's."""

from __future__ import annotations

import pytest

from mlops_template.release.champion_guard import allowed_users, touches_protected_alias

ALIASES = {("m", "3"): ["champion"], ("m", "4"): ["challenger"], ("m", None): ["champion"]}


def aliases_of(name, version):
    return ALIASES.get((name, version), [])


@pytest.mark.parametrize(
    ("path", "params", "touched"),
    [
        ("/api/2.0/mlflow/registered-models/alias", {"name": "m", "alias": "champion"}, True),
        ("/ajax-api/2.0/mlflow/registered-models/alias", {"name": "m", "alias": "champion"}, True),
        ("/api/2.0/mlflow/registered-models/alias", {"name": "m", "alias": "challenger"}, False),
        ("/api/2.0/mlflow/model-versions/delete", {"name": "m", "version": "3"}, True),
        ("/api/2.0/mlflow/model-versions/delete", {"name": "m", "version": "4"}, False),
        ("/api/2.0/mlflow/registered-models/delete", {"name": "m"}, True),
        ("/api/2.0/mlflow/registered-models/rename", {"name": "m", "new_name": "x"}, True),
        ("/api/2.0/mlflow/registered-models/delete", {"name": "other"}, False),
        ("/api/2.0/mlflow/model-versions/set-tag", {"name": "m", "version": "3"}, False),
    ],
)
def test_what_touches_the_champion(path, params, touched):
    assert (touches_protected_alias(path, params, aliases_of) is not None) is touched


def test_the_accounts_and_aliases_come_from_the_environment(monkeypatch):
    assert allowed_users() == {"ci"}
    monkeypatch.setenv("MLOPS_CHAMPION_USERS", "ci, release-bot")
    monkeypatch.setenv("MLOPS_PROTECTED_ALIASES", "champion,prod")
    assert allowed_users() == {"ci", "release-bot"}
    said = touches_protected_alias(
        "/api/2.0/mlflow/registered-models/alias", {"name": "m", "alias": "prod"}, aliases_of
    )
    assert said == "alias 'prod' of m"
