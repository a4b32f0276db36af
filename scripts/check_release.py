"""Check that a git tag is a valid release: `vMAJOR.MINOR.PATCH` with a CHANGELOG section.

Usage: uv run python scripts/check_release.py v1.2.0
The template's CI runs it for every `v*` tag; `copier update` offers every such tag, so a
tag without release notes must never be pushed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TAG = re.compile(r"v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


def problems(tag: str, changelog: str) -> list[str]:
    if not TAG.fullmatch(tag):
        return [f"{tag!r} is not a release tag: use vMAJOR.MINOR.PATCH, e.g. v1.2.0"]
    version = tag.removeprefix("v")
    heading = re.compile(rf"^## \[{re.escape(version)}\]( - \d{{4}}-\d{{2}}-\d{{2}})?$", re.M)
    if not heading.search(changelog):
        return [f"CHANGELOG.md has no section '## [{version}] - YYYY-MM-DD' for {tag}"]
    return []


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    found = problems(sys.argv[1], (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
