"""Print how long one render takes with each engine, and the size of the option space.

Usage: uv run python scripts/benchmark_render.py [--repeat N]
Figures only (no pass/fail): compare them before and after a change to the template.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import copier
from cookiecutter.main import cookiecutter

from template_spec import ROOT, choice_values, load_questions


def timed(action: Callable[[], None], repeat: int) -> list[float]:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        source = work / "source"  # outside git, as the tests render it
        source.mkdir()
        for name in ("copier.yml", "options.yml"):
            shutil.copy2(ROOT / name, source / name)
        shutil.copytree(ROOT / "template", source / "template")
        counter = iter(range(10**6))

        def render_copier() -> None:
            copier.run_copy(str(source), work / f"cp{next(counter)}", defaults=True, quiet=True)

        def render_cookiecutter() -> None:
            out = work / f"cc{next(counter)}"
            cookiecutter(str(source / "template"), no_input=True, output_dir=str(out))

        copier_s = timed(render_copier, args.repeat)
        cookiecutter_s = timed(render_cookiecutter, args.repeat)
        files = sum(1 for p in (work / "cp0").rglob("*") if p.is_file())

    sizes = {
        name: len(values)
        for name, spec in load_questions().items()
        if (values := choice_values(spec)) is not None
    }
    print(
        json.dumps(
            {
                "files_in_default_project": files,
                "copier_render_seconds_median": round(statistics.median(copier_s), 3),
                "cookiecutter_render_seconds_median": round(statistics.median(cookiecutter_s), 3),
                "choice_questions": sizes,
                "full_product_of_choices": math.prod(sizes.values()),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
