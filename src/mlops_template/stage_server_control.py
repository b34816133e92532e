"""`python -m mlops_template stage-server status|stop [--all]` (`make stop-stage-server`):
which warm stage servers (stage_server.py) are up, and asking them to exit.

Like stage_client.py, it imports only the standard library.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from mlops_template.stage_client import check_peer, connect, socket_path


def server_pid(path: Path) -> int | None:
    """The pid of the server listening on `path`, if one is."""
    try:
        with connect(path) as conn:
            return check_peer(conn)
    except OSError:
        return None


def servers_of_this_environment() -> dict[int, Path]:
    """Every server this user runs with this interpreter (older code too), by pid."""
    found = {}
    for path in sorted(socket_path().parent.glob("*.sock")):
        if (pid := server_pid(path)) is None:  # a socket left by a server killed outright
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:  # gone since
            continue
        if argv[0] == os.fsencode(sys.executable):
            found[pid] = path
    return found


def stage_server_command(action: str, every: bool = False) -> int:
    """`stage-server status` says whether this code's server is up; `stop` asks it to exit
    (SIGTERM: it takes no new stage, and exits once those it runs have ended). `every`:
    each server of this interpreter, those of older code too."""
    if every:
        servers = servers_of_this_environment()
    else:
        pid = server_pid(socket_path())
        servers = {} if pid is None else {pid: socket_path()}
    if not servers:
        print(
            "no stage server is up for this " + ("environment" if every else "code and environment")
        )
    for pid, path in servers.items():
        if action == "stop":
            os.kill(pid, signal.SIGTERM)
            print(f"stage server {pid} stops once the stages it runs have ended (log: {path}.log)")
        else:
            print(f"stage server {pid} is up (log: {path}.log)")
    return 0
