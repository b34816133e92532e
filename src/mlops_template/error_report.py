"""How a command ends on an error: a message and an exit code, not a traceback (the CLI,
and the second process of `predict`, operate/batch/model_fetch.py)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

from mlops_template.errors import AlreadyReported, PipelineError, redact
from mlops_template.stop_signals import Terminated

# The tracking server refused the request (401, 403) or went away during it.
TRACKING_SERVER_EXIT = 5


def run_reporting_errors(run: Callable[[], int]) -> int:
    """Run a command: bad input, a locked or damaged store, a full disk or a refusing
    server is a message and an exit code, not a traceback."""
    try:
        return run()
    except AlreadyReported as err:
        return err.exit_code
    except PipelineError as err:
        _say(str(err))
        if err.exit_at_once:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(err.exit_code)
        return err.exit_code
    except (KeyboardInterrupt, Terminated) as stop:  # stopped on purpose, not a crash
        return _stopped(stop)
    except Exception as err:
        from mlops_template.io.store_errors import disk_full, server_refusal, sqlite_store

        # The environment, as bad input is: the SQLite store, the disk.
        if (message := sqlite_store(err) or disk_full(err)) is not None:
            _say(message)
            return PipelineError.exit_code
        if (message := server_refusal(err)) is None:
            _reraise_redacted(err)
        _say(message)
        return TRACKING_SERVER_EXIT


def _stopped(stop: BaseException) -> int:
    """Ctrl-C: "interrupted", 130; SIGTERM or SIGHUP: "stopped (SIGTERM)" or "stopped
    (SIGHUP)", 128 + N."""
    if isinstance(stop, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return 130
    code = int(stop.code)
    print(f"stopped ({signal.Signals(code - 128).name})", file=sys.stderr)
    return code


def _say(message: str) -> None:
    """The error line; a URI in it (the tracking server's, a data file's) without its
    password or secret query parameters."""
    print(f"error: {redact(message)}", file=sys.stderr)


def _reraise_redacted(err: BaseException) -> None:
    """An unexpected error ends in its traceback, as Python would print it, unless that
    holds a password (MLflow's client quotes the URL it called): then the same traceback
    with the password hidden, exit 1."""
    import traceback

    text = "".join(traceback.format_exception(err))
    if redact(text) == text:
        raise err
    print(redact(text), file=sys.stderr, end="")
    raise SystemExit(1)
