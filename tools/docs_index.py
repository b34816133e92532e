"""docs/index.md from README.md, for the docs site: the README's links into docs/ made
relative to docs/, and its links to files outside docs/ (CHANGELOG.md, LICENSE) made plain
text, since a site page cannot link to them. `make docs` runs it before building."""

from __future__ import annotations

import re
import sys
from pathlib import Path

LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def index_text(readme: str, docs: Path) -> str:
    def relink(match: re.Match[str]) -> str:
        label, target = match.groups()
        if re.match(r"[a-z]+://", target):
            return match.group(0)
        page = target.removeprefix("docs/")
        if (docs / page.split("#")[0]).is_file():
            return f"[{label}]({page})"
        return label  # a file of the repository, not of the site

    return LINK.sub(relink, readme)


def main(root: Path) -> int:
    readme = (root / "README.md").read_text(encoding="utf-8")
    docs = root / "docs"
    (docs / "index.md").write_text(index_text(readme, docs), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()))
