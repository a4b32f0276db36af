"""The package imports and reports its version."""

import {{ cookiecutter.project_slug }}


def test_package_has_a_version() -> None:
    assert {{ cookiecutter.project_slug }}.__version__ == "0.1.0"
