"""{{ cookiecutter.project_name }}: a production-ready ML project."""

__version__ = "0.1.0"
