"""Ctrl-C, SIGTERM and SIGHUP stop a command wherever they arrive, through its cleanup (no
temporary folder or second process left behind).

Python runs a signal's handler in the main thread at its next step, wherever that is, and
what the handler raises can be lost there: in a weakref callback (an import lock's, while
a module is imported; Python prints "Exception ignored") or in the start-up of a compiled
module (scipy's, which clears the error without a word). The command then ran on to the
end, exit 0: now and then (about 1 in 100 tries at stopping `predict` while it imported,
on a loaded machine). So a stop lost in a callback is sent again (`install`), and where a
command imports while a second process works for it (`predict`), stops are noted and
raised once the imports are done (`deferred`). `deferred` also keeps writes that belong
together whole: a champion alias and its event run, conf/ files and params.yaml.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# SIGHUP: the terminal closed, an ssh session dropped.
STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Terminated(SystemExit):
    """The exit SIGTERM asks for: 128 + its number, as a shell reports it."""


def install() -> None:
    """SIGTERM (`timeout`, a supervisor, a cancelled CI job) and SIGHUP (unless ignored, as
    under `nohup`) end a command as Ctrl-C does; one lost in a callback is sent again."""
    signal.signal(signal.SIGTERM, _terminated)
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, _terminated)
    sys.unraisablehook = _sent_again(sys.unraisablehook)


@contextmanager
def deferred() -> Iterator[None]:
    """Stops that arrive meanwhile are noted, not raised, and raised as the block ends,
    here, where what the command's handler raises stops it: a stop waits for the block
    (`predict`'s imports, up to ~3 s; a few writes elsewhere). (Blocking the signals
    would not do: numpy's threads would take them instead.)"""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only; the handlers are set there alone
        return
    arrived: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda n, _: arrived.append(n))
        for signum in STOPS
        if signal.getsignal(signum) is not signal.SIG_IGN  # SIGHUP under nohup stays so
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if arrived:
            signal.raise_signal(arrived[0])


def _terminated(signum: int, _frame: object) -> None:
    raise Terminated(128 + signum)


def _sent_again(hook: Callable[[Any], None]) -> Callable[[Any], None]:
    """An ignored stop is sent again, a moment later, by another thread: the main thread
    handles it where it is then. (Sent from here, by any means, Python would handle it at
    once, here again.) Other ignored errors are reported as before."""

    def unraisable(event: Any) -> None:
        stop = event.exc_value
        if isinstance(stop, Terminated | KeyboardInterrupt):
            signum = int(stop.code) - 128 if isinstance(stop, Terminated) else signal.SIGINT
            left = threading.Event()
            threading.Thread(target=_send_after, args=(left, signum), daemon=True).start()
            left.set()  # the last step here: the stop must not land in this hook again
        else:
            hook(event)

    return unraisable


def _send_after(left: threading.Event, signum: int) -> None:
    """The stop, once the hook is done. A timer from the hook's start lost it under load:
    it fired while the hook still waited for its thread to start, and the stop was
    ignored there again. Now the wait starts only when the hook's last step sets `left`,
    and 10 ms more leave it the few bytecodes to its return."""
    left.wait()
    time.sleep(0.01)
    os.kill(os.getpid(), signum)
