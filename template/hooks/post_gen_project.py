"""Remove the files and directories of tools that were not chosen.

Generated from layout.yml by scripts/sync_options.py: do not edit by hand. Cookiecutter
renders the patterns below with the same Jinja Copier uses for its `_exclude`.
"""

import shutil
from pathlib import Path

PATTERNS = """
__pycache__
*.py[co]
.DS_Store
{% if cookiecutter.tracker != 'mlflow' %}src/*/tracking/mlflow_tracker{% endif %}
{% if cookiecutter.tracker not in ['wandb', 'dvc', 'none'] %}src/*/tracking/file_tracker{% endif %}
{% if cookiecutter.orchestrator not in ['none', 'prefect', 'dagster', 'metaflow'] %}.github/workflows/ct.yml{% endif %}
{% if cookiecutter.orchestrator not in ['none', 'prefect', 'dagster', 'metaflow'] %}.github/workflows/cm.yml{% endif %}
{% if cookiecutter.orchestrator not in ['none', 'prefect', 'dagster', 'metaflow'] %}.gitlab/continuous-training.yml{% endif %}
{% if cookiecutter.orchestrator != 'airflow' %}dags{% endif %}
{% if cookiecutter.orchestrator != 'airflow' %}tests/infrastructure/test_airflow_pipeline.py{% endif %}
{% if cookiecutter.orchestrator != 'kubeflow' %}orchestration/kubeflow{% endif %}
{% if cookiecutter.orchestrator != 'kubeflow' %}tests/infrastructure/test_kubeflow_pipeline.py{% endif %}
{% if cookiecutter.orchestrator != 'flyte' %}orchestration/flyte{% endif %}
{% if cookiecutter.orchestrator != 'flyte' %}tests/infrastructure/test_flyte_pipeline.py{% endif %}
{% if cookiecutter.cloud != 'local' %}docker-compose.yml{% endif %}
{% if cookiecutter.ci != 'github' %}.github{% endif %}
{% if cookiecutter.ci != 'gitlab' %}.gitlab-ci.yml{% endif %}
{% if cookiecutter.ci != 'gitlab' %}.gitlab{% endif %}
{% if cookiecutter.ci != 'gitlab' %}renovate.json{% endif %}
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
