"""{{ cookiecutter.project_name }}

A production-ready ML project: data contract, training, promotion gate, serving and
monitoring. Run the command line with `{{ cookiecutter.project_slug | replace('_', '-') }} --help`.
"""

__version__ = "0.1.0"
