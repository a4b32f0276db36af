"""Remove the files and directories of tools that were not chosen.

Generated from copier.yml's `_exclude` by scripts/sync_options.py: do not edit by hand.
Cookiecutter renders the patterns below with the same Jinja Copier uses for `_exclude`.
"""

import shutil
from pathlib import Path

PATTERNS = """
__pycache__
*.py[co]
.DS_Store
{% if cookiecutter.ci != 'github' %}.github{% endif %}
"""


def matches(pattern: str) -> list[Path]:
    """Paths a gitignore-style pattern selects (a bare name matches at any depth)."""
    pattern = pattern.strip().rstrip("/")
    if "/" in pattern:
        return sorted(Path().glob(pattern.lstrip("/")))
    return sorted(Path().rglob(pattern))


for line in PATTERNS.splitlines():
    if line.strip():
        for path in matches(line):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
