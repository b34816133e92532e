"""How a command ends on an error: a message and an exit code, not a traceback (the CLI,
and the second process of `predict`, operate/model_fetch.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from mlops_template.errors import AlreadyReported, PipelineError

# The tracking server refused the request (401, 403) or went away during it.
TRACKING_SERVER_EXIT = 5


def run_reporting_errors(run: Callable[[], int]) -> int:
    """Run a command: bad input, a locked store or a refusing server is a message and an
    exit code, not a traceback."""
    try:
        return run()
    except AlreadyReported as err:
        return err.exit_code
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:  # Ctrl-C: stopped on purpose, not a crash
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        from mlops_template.io.store_errors import locked_store, server_refusal

        if (message := locked_store(err)) is not None:  # the environment, as bad input is
            print(f"error: {message}", file=sys.stderr)
            return PipelineError.exit_code
        if (message := server_refusal(err)) is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return TRACKING_SERVER_EXIT
