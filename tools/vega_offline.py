"""Write .dvc/plots/offline.html: the page `dvc plots show` and `dvc plots diff` fill in
(.dvc/config, plots.html_template), with Vega, Vega-Lite and Vega-Embed inlined.

DVC's own page loads them from a CDN, so without network access every Vega plot stays
blank. The versions are those dvc-render's page names, downloaded once from the npm
registry (`npm pack`); the page is committed, so nothing is fetched when plots render.
Run `python tools/vega_offline.py` to write it again, `--check` to see it is current.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# name, version, file in the package: as dvc_render/vega.py's page loads them.
SCRIPTS = (
    ("vega", "5.20.2", "package/build/vega.min.js"),
    ("vega-lite", "5.2.0", "package/build/vega-lite.min.js"),
    ("vega-embed", "6.18.2", "package/build/vega-embed.min.js"),
)
PAGE = Path(".dvc/plots/offline.html")
# What dvc-render replaces in the whole page: none may appear in an inlined script.
PLACEHOLDERS = ("plot_divs", "scripts", "refresh_tag")

HEAD = """<!DOCTYPE html>
<html>
<head>
    {{refresh_tag}}
    <title>DVC Plot</title>
    <!-- Written by tools/vega_offline.py: {names}, inlined (BSD-3-Clause, Copyright
    (c) 2015-2018, University of Washington Interactive Data Lab) so that the plots
    render without network access. -->
"""
TAIL = """    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def page(folder: Path) -> str:
    """The page, from the packages `npm pack` downloaded into `folder`."""
    names = ", ".join(f"{name} {version}" for name, version, _ in SCRIPTS)
    parts = [HEAD.format(names=names)]
    for name, version, member in SCRIPTS:
        with tarfile.open(folder / f"{name}-{version}.tgz") as packed:
            script = packed.extractfile(member).read().decode("utf-8")
        if "</script" in script or any(f"{{{k}}}" in script for k in PLACEHOLDERS):
            sys.exit(f"{name} {version}: holds text that would end the inlined script")
        parts.append(f"    <script>/* {name} {version} */\n{script}\n    </script>\n")
    return "".join(parts) + TAIL


def download(folder: Path) -> None:
    specs = [f"{name}@{version}" for name, version, _ in SCRIPTS]
    subprocess.run(["npm", "pack", "--silent", *specs], cwd=folder, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page differs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        download(Path(tmp))
        text = page(Path(tmp))
    if args.check:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE} differs from the packages; run python tools/vega_offline.py")
            return 1
        return 0
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    print(f"wrote {PAGE} ({len(text) // 1024} KiB, sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
