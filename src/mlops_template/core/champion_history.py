"""The champion's history from promotion and rollback events.

Registry aliases keep no history, so every alias move is recorded as an event; replaying
them gives the line of champions, and a rollback steps back along it.
"""

from __future__ import annotations

from typing import Any


def champion_line(events: list[dict[str, Any]]) -> list[str]:
    """Champion versions, oldest first, after replaying events in time order.

    A promotion pushes its version; a rollback pops back to the version it names.
    """
    line: list[str] = []
    for event in events:
        if event["action"] == "promote":
            line.append(event["version"])
        elif event["action"] == "rollback":
            if event["version"] not in line:  # rolled back to a version never champion
                line.append(event["version"])
            while line[-1] != event["version"]:
                line.pop()
    return line


def unbroken(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events since the history last broke. After any event the champion is the
    version it names, so the next event records that one as the champion before it.
    One that records another follows an alias moved by hand, or an event run added by
    hand (anyone who may create runs could add one naming a version never crowned): the
    history before it is not replayed."""
    start = 0
    for i in range(1, len(events)):
        if events[i]["previous"] != events[i - 1]["version"]:
            start = i
    return events[start:]


def rollback_target(events: list[dict[str, Any]], current: str | None) -> str | None:
    """The champion before `current` in the unbroken history, or None when there is
    nothing to go back to."""
    line = champion_line(unbroken(events))
    if not line or line[-1] != current:
        return None
    return line[-2] if len(line) > 1 else None


def rolled_back(events: list[dict[str, Any]], version: str) -> dict[str, Any] | None:
    """The rollback that took `version` off the champion's seat, unless a later event
    crowned it again (None: it was never rolled back, or is trusted again)."""
    found = None
    for event in events:
        if event["version"] == version:
            found = None
        elif event["action"] == "rollback" and event["previous"] == version:
            found = event
    return found
