"""Headless Chromium for the tests: a page rendered as a person would see it, with the
network closed, so a page that needs a CDN shows it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# No network: every host but loopback resolves nowhere, and Chromium's own background
# traffic is off (on a closed network it otherwise retries at every start).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


def chromium() -> str:
    found = next((path for name in CANDIDATES if (path := shutil.which(name))), None)
    if found is None:  # .ci/run installs it; a missing browser is a failure, not a skip
        raise RuntimeError(f"no browser found ({', '.join(CANDIDATES)}): apt-get install chromium")
    return found


def rendered_dom(page: Path, wait_ms: int = 5000) -> str:
    """The page's DOM after its scripts ran (for up to `wait_ms` of virtual time)."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                chromium(),
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={wait_ms}",
                "--dump-dom",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return done.stdout
