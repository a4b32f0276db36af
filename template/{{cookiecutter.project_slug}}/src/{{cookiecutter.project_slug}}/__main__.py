"""`python -m {{ cookiecutter.project_slug }}` runs the CLI."""

from .cli import app

app()
