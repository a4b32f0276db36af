"""GitLab CI YAML read and written with its `!reference` tags, which a plain YAML loader
refuses (the cloud checks read the rendered pipelines; the runner tier rewrites them)."""

from __future__ import annotations

from typing import Any

import yaml


class Reference(list[Any]):
    """GitLab's `!reference [job, key, ...]`: another job's value, reused where it stands."""


class GitLabLoader(yaml.SafeLoader):
    """GitLab CI YAML, whose `!reference` tags a plain YAML loader refuses."""


class GitLabDumper(yaml.SafeDumper):
    """Writes GitLab CI YAML back with its `!reference` tags."""


def _construct_reference(loader: yaml.SafeLoader, node: yaml.Node) -> Reference:
    assert isinstance(node, yaml.SequenceNode), node
    return Reference(loader.construct_sequence(node))


def _represent_reference(dumper: yaml.SafeDumper, data: Reference) -> yaml.Node:
    return dumper.represent_sequence("!reference", data, flow_style=True)


GitLabLoader.add_constructor("!reference", _construct_reference)
GitLabDumper.add_representer(Reference, _represent_reference)
