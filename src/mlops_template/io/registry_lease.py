"""One promote, rollback or retire at a time on a tracking server: a lease, held as a
registered model's tag (`registry.lease`) naming its holder and when it lapses.

A server has no lock to take and no compare-and-set: two promotions from two clones
both read the champion, both passed the gate against it and both moved it (a team
trial: 3 pairs in 5), the second never compared with the first. So a taker reads the
tag; if no one holds it (absent, lapsed or unreadable) it writes its own, lets any
concurrent writer's tag land (SETTLE, or three round trips of its own write if longer),
and reads it back: only the last writer finds its own and holds the lease, the others
wait and try again; and a holder confirms it is still its own just before it changes
the registry (Lease.confirm). The holder renews it while it works and deletes it when
done; one killed outright leaves it until it lapses (LEASE_SECONDS). (A local SQLite
store uses a lock file instead: registry.registry_lock.)
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from mlops_template.errors import PipelineError

TAG = "registry.lease"
# Renewed every RENEW seconds while its holder lives (and at each confirm), so a holder
# killed outright (`kill -9`) holds it at most this long: well within a waiter's patience
# (registry.LOCK_WAIT, 600 s). Judged by the waiter's clock: the team's machines' clocks
# must agree within a minute or so.
LEASE_SECONDS = 180.0
RENEW = 45.0
SETTLE = 0.5  # seconds: far more than one write's round trip to a team server
POLL = 1.0  # seconds between tries while another holds it (with jitter)


class Lease:
    """The lease this process holds; `confirm` before changing the registry."""

    def __init__(self, client: Any, name: str, token: str) -> None:
        self.client, self.name, self.token = client, name, token

    def confirm(self) -> None:
        """Still this process's, renewed; else nothing may change. The read-back cannot see
        a competitor whose write (retried by MLflow's client, or paused) lands after it:
        that one then holds the lease too, and this check, after the gate's seconds of
        work and just before an alias moves, is where the first learns it lost."""
        held = _held(self.client, self.name)
        if held is None or held[0] != self.token:
            other = _described(*held) if held else "no one (it lapsed)"
            raise PipelineError(
                f"the registry's lease of {self.name} is held by {other}, no longer by this "
                "process: nothing was changed; run this again"
            )
        _write(self.client, self.name, self.token)


@contextmanager
def leased(client: Any, name: str, who: str, wait: float) -> Iterator[Lease]:
    """Model `name`'s lease for this process meanwhile; waits up to `wait` s for another
    holder, saying so once."""
    token = f"{who} on {socket.gethostname()} (pid {os.getpid()}, {uuid.uuid4().hex[:8]})"
    deadline = time.monotonic() + wait
    said = False
    while (other := _take(client, name, token)) is not None:
        if time.monotonic() >= deadline:
            raise PipelineError(
                f"{other} held the registry of {name} all the {wait:.0f} s this waited; "
                "nothing was changed: run this again once it is done"
            )
        if not said:
            print(
                f"{other} is changing the registry of {name}; waiting up to {wait:.0f} s (a "
                "holder that died lets go when its lease lapses)",
                file=sys.stderr,
            )
            said = True
        time.sleep(POLL * random.uniform(0.5, 1.5))  # two waiters do not retry in step
    stop = threading.Event()
    renewing = threading.Thread(target=_renew, args=(client, name, token, stop), daemon=True)
    renewing.start()
    try:
        yield Lease(client, name, token)
    finally:
        stop.set()
        renewing.join()
        # Not over the body's own error (the server gone, say): a lease left lapses.
        with suppress(Exception):
            if (held := _held(client, name)) is not None and held[0] == token:
                client.delete_registered_model_tag(name, TAG)


def _renew(client: Any, name: str, token: str, stop: threading.Event) -> None:
    """The lease kept while its holder works (a gate on large data takes minutes); given
    up, for confirm to find, once another holds it."""
    while not stop.wait(RENEW):
        with suppress(Exception):  # the server gone a moment: the next round, or it lapses
            if (held := _held(client, name)) is None or held[0] != token:
                return
            _write(client, name, token)


def _write(client: Any, name: str, token: str) -> None:
    lease = {"holder": token, "until": time.time() + LEASE_SECONDS}
    client.set_registered_model_tag(name, TAG, json.dumps(lease))


def _take(client: Any, name: str, token: str) -> str | None:
    """None if this process now holds the lease, else who does."""
    if (held := _held(client, name)) is None:
        started = time.monotonic()
        try:
            _write(client, name, token)
        except Exception:
            # MLflow's SQL store inserts a new tag: a concurrent taker's insert of the same
            # one fails (a unique key), and then that taker holds it.
            if (held := _held(client, name)) is None:
                raise
            return _described(*held)
        time.sleep(max(SETTLE, 3 * (time.monotonic() - started)))
        if (held := _held(client, name)) is None:  # deleted by hand meanwhile: try again
            return "another promote, rollback or retire"
        if held[0] == token:
            return None
    return _described(*held)


def _described(holder: str, until: float) -> str:
    return f"{holder} (its lease lapses at {time.strftime('%H:%M:%S', time.localtime(until))})"


def _held(client: Any, name: str) -> tuple[str, float] | None:
    """Who holds the lease and until when, if one holds it now."""
    text = client.get_registered_model(name).tags.get(TAG)
    try:
        lease = json.loads(text) if text else None
        holder, until = str(lease["holder"]), float(lease["until"])
    except (ValueError, TypeError, KeyError):  # unreadable: no one's
        return None
    return (holder, until) if until > time.time() else None  # lapsed: died or overran
