"""support/jinja_cache.py: renders that share Jinja's compilations write what renders that
compile everything themselves write."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from jinja2 import Environment

from support.rendering import defaults, render_copier, tree_bytes


def test_a_render_with_shared_compilations_is_the_render_without(
    copier_source: Path, tmp_path: Path
) -> None:
    """Two combinations rendered in this process, the second reusing the first's
    compilations (tests/conftest.py installs the cache), match byte for byte the same
    combinations rendered by the `copier` command in a fresh interpreter."""
    assert getattr(Environment.compile, "cached", False), "the cache is not installed"
    combinations = (
        {**defaults(), "tracker": "wandb", "orchestrator": "prefect", "cloud": "aws"},
        defaults(),
    )
    for index, answers in enumerate(combinations):
        shared = render_copier(copier_source, answers, tmp_path / f"shared-{index}")
        alone = tmp_path / f"alone-{index}"
        data = [
            argument
            for name, value in answers.items()
            for argument in ("--data", f"{name}={value}")
        ]
        subprocess.run(
            [sys.executable, "-m", "copier", "copy", "--quiet", "--defaults", *data,
             str(copier_source), str(alone)],
            check=True,
        )  # fmt: skip
        assert tree_bytes(shared) == tree_bytes(alone), answers
