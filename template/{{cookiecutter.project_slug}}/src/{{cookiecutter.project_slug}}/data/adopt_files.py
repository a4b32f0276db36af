"""What `adopt` writes: the data under data/raw/, contract.yaml, and params.yaml and
dvc.yaml pointed at the data. params.yaml and dvc.yaml are edited line by line, so their
comments and layout stay as they are; every file is computed before any is written, and a
file whose content would not change is not touched."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .adopt import Adopted, Options, infer, report
from .inference import BOUNDS_MARGIN, AdoptError

# The console script (pyproject.toml's [project.scripts]: the package's name, dashed).
CLI = __name__.split(".")[0].replace("_", "-")
DEFAULT_PARITY_BOUND = 0.2  # a new fairness attribute's bound when params.yaml names none


@dataclass(frozen=True)
class ProjectFiles:
    """The files adopt writes, in the project where params.yaml lives."""

    params: Path
    contract: Path

    @property
    def root(self) -> Path:
        return self.params.parent

    @property
    def dvc(self) -> Path:
        return self.root / "dvc.yaml"

    def raw(self, name: str) -> Path:
        return self.root / "data" / "raw" / name


def _key(key: Any) -> str:
    """`key` as a YAML mapping key (quoted when it needs to be)."""
    return str(yaml.safe_dump({key: 0}, allow_unicode=True)).rsplit(":", 1)[0]


def _entry(key: Any, value: Any, indent: int) -> list[str]:
    """`key: value` at `indent`, a list or mapping in flow style (`[a, b]`), wrapped."""
    text = (
        yaml.safe_dump(
            value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=96 - indent
        )
        .removesuffix("\n...\n")
        .rstrip("\n")
    )
    first, *rest = text.splitlines()
    pad = " " * indent
    return [f"{pad}{_key(key)}: {first}", *(f"{pad}  {line.strip()}" for line in rest)]


def contract_text(adopted: Adopted) -> str:
    """contract.yaml for the adopted data, commented like the one it replaces."""
    contract = adopted.contract
    lines = [
        f"# The data contract of data/raw/{adopted.name}, inferred from the data by",
        f"# `{CLI} adopt` (README, Bring your own data). Review it: describe each column",
        "# and class, say what one row is (row_noun), check the roles, categories and bounds",
        f"# (the observed range widened by {BOUNDS_MARGIN * 100:g}% of its width on each side)",
        "# and the fairness attributes.",
        *_entry("task", contract["task"], 0),
        "# What one row is, in messages, schema names and the API's documentation.",
        *_entry("row_noun", contract["row_noun"], 0),
        "",
        "target:",
    ]
    target = contract["target"]
    for key in ("name", "description", "positive"):
        if key in target:
            lines += _entry(key, target[key], 2)
    if "classes" in target:
        lines.append("  classes:")
        for code, spec in target["classes"].items():
            lines += _entry(code, spec, 4)
    lines += [
        "",
        "# In file order. role: feature (a model input), sensitive (fairness checks only),",
        "# ignored (validated only), identifier or event_time (validated, never a model input).",
        "columns:",
    ]
    for name, spec in contract["columns"].items():
        lines.append(f"  {_key(name)}:")
        for key, value in spec.items():
            lines += _entry(key, value, 4)
    if contract["slices"]:
        lines += [
            "",
            "# Groups of a numeric sensitive column: bucket i holds edges[i] <= value"
            " < edges[i + 1].",
            "slices:",
        ]
        for name, spec in contract["slices"].items():
            lines += [f"  {name}:", *(line for k, v in spec.items() for line in _entry(k, v, 4))]
    lines += [
        "",
        "# The attributes whose groups the fairness checks compare: every sensitive column,",
        "# directly or through its slice.",
        *_entry("fairness", contract["fairness"], 0),
        "",
        "# A valid request body: shown in the API docs and used by the tests (model inputs only).",
        "example:",
    ]
    for name, value in contract["example"].items():
        lines += _entry(name, value, 2)
    return "\n".join(lines) + "\n"


def _find(lines: list[str], keys: tuple[str, ...], file: Path) -> tuple[int, int]:
    """The line of the nested key `keys` (block style) and the end of its block."""
    start, end, indent = 0, len(lines), -1
    for depth, key in enumerate(keys):
        pattern = re.compile(rf"^(\s*){re.escape(key)}:(\s|$)")
        for number in range(start, end):
            match = pattern.match(lines[number])
            if match and len(match[1]) > indent:
                indent, start = len(match[1]), number
                break
        else:
            raise AdoptError(
                f"{file}: {'.'.join(keys[: depth + 1])} not found: adopt edits "
                "the file line by line and needs it"
            )
        end = start + 1
        while end < len(lines) and (
            not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
        ):
            end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return start, end


def _set_value(line: str, value: str) -> str:
    """`line` (`key: old  # comment`) with `value` in place of old, its comment kept."""
    return re.sub(
        r"^(\s*(?:- )?[^:#]*:\s*|\s*- )(.*?)(\s+#.*)?$",
        lambda match: f"{match[1]}{value}{match[3] or ''}",
        line,
    )


def params_text(text: str, raw_path: str, fairness: list[str], file: Path) -> tuple[str, str]:
    """params.yaml reading the adopted data and bounding each fairness attribute (the bound
    already there is kept); also the raw path it named before."""
    lines = text.splitlines()
    at, _ = _find(lines, ("data", "raw_path"), file)
    before = str(yaml.safe_load(lines[at].split(":", 1)[1]) or "")
    lines[at] = _set_value(lines[at], raw_path)
    start, end = _find(lines, ("gate", "max_demographic_parity_difference"), file)
    block = "\n".join(
        line[len(lines[start]) - len(lines[start].lstrip()) :] for line in lines[start:end]
    )
    old: dict[str, float] = (yaml.safe_load(block) or {}).get(
        "max_demographic_parity_difference"
    ) or {}
    default = next(iter(old.values()), DEFAULT_PARITY_BOUND)
    bounds = {name: old.get(name, default) for name in fairness}
    if bounds != old:  # else its lines stay as they are (0.20 is not rewritten 0.2)
        indent = len(lines[start]) - len(lines[start].lstrip())
        key = lines[start].split(":", 1)[0]
        entries = [" " * (indent + 2) + f"{_key(name)}: {bound}" for name, bound in bounds.items()]
        lines[start:end] = [f"{key}:", *entries] if bounds else [f"{key}: " + "{}"]
    return "\n".join(lines) + "\n", before


def dvc_text(text: str, before: str, raw_path: str, file: Path) -> str:
    """dvc.yaml with the ingest stage depending on the adopted data, not on `before`."""
    lines = text.splitlines()
    start, end = _find(lines, ("stages", "ingest", "deps"), file)
    items = [n for n in range(start + 1, end) if re.match(r"^\s*- ", lines[n])]
    values = {n: lines[n].split("- ", 1)[1].split(" #")[0].strip() for n in items}
    found = [n for n in items if values[n] == before] or [
        n for n in items if values[n].startswith("data/raw/")
    ]
    if not found:
        raise AdoptError(
            f"{file}: stages.ingest.deps lists neither {before} nor a data/raw/ file to replace"
        )
    lines[found[0]] = _set_value(lines[found[0]], raw_path)
    return "\n".join(lines) + "\n"


def plan(adopted: Adopted, files: ProjectFiles) -> dict[Path, bytes]:
    """Every file adopt writes and its new content (AdoptError before anything is written
    when params.yaml or dvc.yaml lacks the key to edit)."""
    raw_path = f"data/raw/{adopted.name}"
    params, before = params_text(
        files.params.read_text(encoding="utf-8"),
        raw_path,
        adopted.contract["fairness"],
        files.params,
    )
    contents = {
        files.raw(adopted.name): adopted.data,
        files.contract: contract_text(adopted).encode("utf-8"),
        files.params: params.encode("utf-8"),
    }
    if files.dvc.is_file():
        dvc = dvc_text(files.dvc.read_text(encoding="utf-8"), before, raw_path, files.dvc)
        contents[files.dvc] = dvc.encode("utf-8")
    return contents


def write(contents: dict[Path, bytes]) -> list[Path]:
    """Write the files whose content changes (each replaced at once, never half-written);
    the ones written."""
    changed = [p for p, data in contents.items() if not p.is_file() or p.read_bytes() != data]
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.adopting")
        partial.write_bytes(contents[path])
        os.replace(partial, path)
    return changed


def adopt(source: str, options: Options, files: ProjectFiles) -> list[str]:
    """Adopt the data at `source` into the project: what was decided, what to review, and
    what was written (or that nothing changed), as lines to print; AdoptError (one line)
    with nothing written when the data or the project's files cannot be adopted."""
    adopted = infer(source, options)
    contents = plan(adopted, files)
    decided, review = report(adopted)
    written = write(contents)
    done = (
        f"wrote {', '.join(map(str, written))}"
        if written
        else f"unchanged: {', '.join(map(str, contents))} already hold this data (nothing written)"
    )
    return [
        f"adopted {source} as {files.raw(adopted.name)} ({adopted.rows} rows)",
        *(f"  {line}" for line in decided),
        *(f"warning: {warning}" for warning in adopted.warnings),
        "review:",
        *(f"  - {line}" for line in review),
        done,
    ]
