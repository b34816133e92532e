"""Write the absolute path of a local default DVC remote into .dvc/config.local.

DVC resolves a relative local remote (.dvc/config: `url = ../../dvc-storage`) from the
filesystem's root when it reads other commits: `dvc push -A`, `dvc fetch -A` and
`dvc gc --all-commits --cloud` used /dvc-storage. So `make env` writes this clone's own
path for it into .dvc/config.local (git ignores it), and again if the clone moved. The
default remote is read by name, whatever the project calls it; a remote with a scheme
(s3://) or an absolute path is left as it is.

Usage: python tools/local_remote.py [PROJECT_DIR]   (stdlib only: it runs before DVC)
"""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path


def read(file: Path) -> dict[str, dict[str, str]]:
    """A DVC config file's sections by name (`remote "local"`), quotes taken off."""
    parser = configparser.ConfigParser(interpolation=None)
    if file.is_file():
        parser.read(file, encoding="utf-8")
    return {_unquoted(name): dict(parser[name]) for name in parser.sections()}


def _unquoted(section: str) -> str:
    """`'remote "local"'` (how DVC writes it) as `remote "local"`."""
    section = section.strip()
    quoted = len(section) > 1 and section[0] == section[-1] == "'"
    return section[1:-1] if quoted else section


def wanted(project: Path) -> tuple[str, str] | None:
    """The default remote's name and the absolute path to write for it, or None if there
    is nothing to write (no default, a URL or absolute path, or already written)."""
    dvc_dir = project / ".dvc"
    shared, local = read(dvc_dir / "config"), read(dvc_dir / "config.local")
    name = local.get("core", {}).get("remote") or shared.get("core", {}).get("remote")
    url = shared.get(f'remote "{name}"', {}).get("url", "") if name else ""
    if not url or "://" in url or Path(url).is_absolute():
        return None
    path = str((dvc_dir / url).resolve())
    return None if local.get(f'remote "{name}"', {}).get("url") == path else (name, path)


def main(project: Path) -> int:
    if (found := wanted(project)) is None:
        return 0
    name, path = found
    modify = ["dvc", "remote", "modify", "--local", name, "url", path]
    return subprocess.run(modify, cwd=project, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()))
