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
{% if cookiecutter.tracker != 'mlflow' %}tests/infrastructure/test_mlflow_runs.py{% endif %}
{% if cookiecutter.tracker != 'wandb' %}src/*/tracking/wandb_tracker{% endif %}
{% if cookiecutter.tracker != 'wandb' %}tests/infrastructure/test_wandb_offline.py{% endif %}
{% if cookiecutter.tracker != 'wandb' %}tests/infrastructure/test_wandb_online.py{% endif %}
{% if cookiecutter.tracker != 'wandb' %}tests/infrastructure/wandb_server.py{% endif %}
{% if cookiecutter.tracker != 'dvc' %}src/*/tracking/dvc_tracker{% endif %}
{% if cookiecutter.tracker != 'none' %}src/*/tracking/file_tracker{% endif %}
{% if cookiecutter.orchestrator != 'none' %}.github/workflows/ct.yml{% endif %}
{% if cookiecutter.orchestrator != 'none' %}.github/workflows/cm.yml{% endif %}
{% if cookiecutter.orchestrator != 'none' %}.github/workflows/batch-scoring.yml{% endif %}
{% if cookiecutter.orchestrator != 'none' %}deploy/aws/terraform/batch_scoring.tf{% endif %}
{% if cookiecutter.orchestrator != 'none' %}deploy/gcp/terraform/batch_scoring.tf{% endif %}
{% if cookiecutter.orchestrator != 'none' %}deploy/azure/terraform/batch_scoring.tf{% endif %}
{% if cookiecutter.orchestrator != 'none' %}.github/actions/aws-login{% endif %}
{% if cookiecutter.orchestrator != 'none' %}.github/actions/gcp-login{% endif %}
{% if cookiecutter.orchestrator != 'none' %}.github/actions/azure-login{% endif %}
{% if cookiecutter.orchestrator != 'none' %}.gitlab/continuous-training.yml{% endif %}
{% if cookiecutter.orchestrator != 'prefect' %}orchestration/prefect{% endif %}
{% if cookiecutter.orchestrator != 'prefect' %}deploy/aws/terraform/prefect.tf{% endif %}
{% if cookiecutter.orchestrator != 'prefect' %}deploy/gcp/terraform/prefect.tf{% endif %}
{% if cookiecutter.orchestrator != 'prefect' %}deploy/azure/terraform/prefect.tf{% endif %}
{% if cookiecutter.orchestrator != 'prefect' %}tests/infrastructure/prefect_pools.py{% endif %}
{% if cookiecutter.orchestrator != 'prefect' %}tests/infrastructure/test_prefect_ecs_pool.py{% endif %}
{% if cookiecutter.orchestrator != 'prefect' %}tests/infrastructure/test_prefect_cloud_run_pool.py{% endif %}
{% if cookiecutter.orchestrator != 'prefect' %}tests/infrastructure/test_prefect_aci_pool.py{% endif %}
{% if cookiecutter.orchestrator != 'prefect' %}orchestration/prefect/ecs.Dockerfile{% endif %}
{% if cookiecutter.orchestrator != 'prefect' %}tests/infrastructure/test_prefect_pipeline.py{% endif %}
{% if cookiecutter.orchestrator != 'airflow' %}dags{% endif %}
{% if cookiecutter.orchestrator != 'airflow' %}deploy/aws/terraform/airflow.tf{% endif %}
{% if cookiecutter.orchestrator != 'airflow' %}deploy/gcp/terraform/airflow.tf{% endif %}
{% if cookiecutter.orchestrator != 'airflow' %}deploy/azure/terraform/airflow.tf{% endif %}
{% if cookiecutter.orchestrator not in ['airflow', 'flyte'] %}deploy/azure/terraform/database.tf{% endif %}
{% if cookiecutter.orchestrator != 'airflow' %}dags/airflow-values.yaml{% endif %}
{% if cookiecutter.orchestrator != 'airflow' %}tests/infrastructure/test_airflow_managed.py{% endif %}
{% if cookiecutter.orchestrator != 'airflow' %}tests/infrastructure/test_airflow_aks.py{% endif %}
{% if cookiecutter.orchestrator != 'airflow' %}tests/infrastructure/test_airflow_pipeline.py{% endif %}
{% if cookiecutter.orchestrator != 'dagster' %}orchestration/dagster{% endif %}
{% if cookiecutter.orchestrator != 'dagster' %}deploy/gcp/terraform/dagster.tf{% endif %}
{% if cookiecutter.orchestrator != 'dagster' %}deploy/aws/terraform/dagster.tf{% endif %}
{% if cookiecutter.orchestrator != 'dagster' %}deploy/azure/terraform/dagster.tf{% endif %}
{% if cookiecutter.orchestrator != 'dagster' %}orchestration/dagster/dagster_cloud.yaml{% endif %}
{% if cookiecutter.orchestrator != 'dagster' %}orchestration/dagster/plus.py{% endif %}
{% if cookiecutter.orchestrator != 'dagster' %}orchestration/dagster/k8s{% endif %}
{% if cookiecutter.orchestrator != 'dagster' %}tests/infrastructure/test_dagster_plus.py{% endif %}
{% if cookiecutter.orchestrator != 'dagster' %}tests/infrastructure/test_dagster_pipeline.py{% endif %}
{% if cookiecutter.orchestrator != 'kubeflow' %}orchestration/kubeflow{% endif %}
{% if cookiecutter.orchestrator != 'kubeflow' %}deploy/gcp/terraform/kubeflow.tf{% endif %}
{% if cookiecutter.orchestrator != 'kubeflow' %}orchestration/kubeflow/vertex.py{% endif %}
{% if cookiecutter.orchestrator != 'kubeflow' %}tests/infrastructure/test_kubeflow_vertex.py{% endif %}
{% if cookiecutter.orchestrator != 'kubeflow' %}tests/infrastructure/kubeflow_terraform.py{% endif %}
{% if cookiecutter.orchestrator != 'kubeflow' %}deploy/aws/terraform/kubeflow.tf{% endif %}
{% if cookiecutter.orchestrator != 'kubeflow' %}deploy/azure/terraform/kubeflow.tf{% endif %}
{% if cookiecutter.orchestrator != 'kubeflow' %}orchestration/kubeflow/k8s{% endif %}
{% if cookiecutter.orchestrator != 'kubeflow' %}tests/infrastructure/test_kubeflow_cluster.py{% endif %}
{% if cookiecutter.orchestrator != 'kubeflow' %}tests/infrastructure/test_kubeflow_pipeline.py{% endif %}
{% if cookiecutter.orchestrator != 'flyte' %}orchestration/flyte{% endif %}
{% if cookiecutter.orchestrator != 'flyte' %}deploy/aws/terraform/flyte.tf{% endif %}
{% if cookiecutter.orchestrator != 'flyte' %}deploy/gcp/terraform/flyte.tf{% endif %}
{% if cookiecutter.orchestrator != 'flyte' %}deploy/azure/terraform/flyte.tf{% endif %}
{% if cookiecutter.orchestrator != 'flyte' %}orchestration/flyte/flyte-values.yaml.tftpl{% endif %}
{% if cookiecutter.orchestrator != 'flyte' %}tests/infrastructure/test_flyte_pipeline.py{% endif %}
{% if cookiecutter.orchestrator != 'metaflow' %}orchestration/metaflow{% endif %}
{% if cookiecutter.orchestrator != 'metaflow' %}deploy/gcp/terraform/metaflow.tf{% endif %}
{% if cookiecutter.orchestrator != 'metaflow' %}deploy/aws/terraform/metaflow.tf{% endif %}
{% if cookiecutter.orchestrator != 'metaflow' %}deploy/azure/terraform/metaflow.tf{% endif %}
{% if cookiecutter.orchestrator != 'metaflow' %}tests/infrastructure/test_metaflow_pipeline.py{% endif %}
{% if cookiecutter.compute != 'ray' %}src/*/compute/ray_engine{% endif %}
{% if cookiecutter.compute != 'ray' %}tests/infrastructure/test_ray_cluster.py{% endif %}
{% if cookiecutter.compute != 'ray' %}deploy/k8s/ray{% endif %}
{% if cookiecutter.compute != 'ray' %}deploy/aws/k8s/ray{% endif %}
{% if cookiecutter.compute != 'ray' %}deploy/aws/terraform/ray.tf{% endif %}
{% if cookiecutter.compute != 'ray' %}deploy/gcp/k8s/ray{% endif %}
{% if cookiecutter.compute != 'ray' %}deploy/gcp/terraform/ray.tf{% endif %}
{% if cookiecutter.compute != 'ray' %}deploy/azure/k8s/ray{% endif %}
{% if cookiecutter.compute != 'ray' %}deploy/azure/terraform/ray.tf{% endif %}
{% if cookiecutter.cloud != 'local' %}docker-compose.yml{% endif %}
{% if cookiecutter.cloud != 'aws' %}deploy/aws{% endif %}
{% if cookiecutter.cloud not in ['aws', 'gcp', 'azure'] %}tests/infrastructure/prefect_pools.py{% endif %}
{% if cookiecutter.cloud != 'aws' %}tests/infrastructure/test_prefect_ecs_pool.py{% endif %}
{% if cookiecutter.cloud != 'aws' %}orchestration/prefect/ecs.Dockerfile{% endif %}
{% if cookiecutter.cloud not in ['aws', 'gcp', 'azure'] %}tests/infrastructure/test_airflow_managed.py{% endif %}
{% if cookiecutter.cloud not in ['aws', 'gcp', 'azure'] %}orchestration/dagster/dagster_cloud.yaml{% endif %}
{% if cookiecutter.cloud not in ['aws', 'gcp', 'azure'] %}orchestration/dagster/plus.py{% endif %}
{% if cookiecutter.cloud not in ['aws', 'gcp', 'azure'] %}orchestration/dagster/k8s{% endif %}
{% if cookiecutter.cloud not in ['aws', 'gcp', 'azure'] %}tests/infrastructure/test_dagster_plus.py{% endif %}
{% if cookiecutter.cloud not in ['aws', 'gcp', 'azure'] %}orchestration/flyte/flyte-values.yaml.tftpl{% endif %}
{% if cookiecutter.cloud not in ['aws', 'azure'] %}orchestration/kubeflow/k8s{% endif %}
{% if cookiecutter.cloud not in ['aws', 'azure'] %}tests/infrastructure/test_kubeflow_cluster.py{% endif %}
{% if cookiecutter.cloud not in ['aws', 'gcp', 'azure'] %}tests/infrastructure/kubeflow_terraform.py{% endif %}
{% if cookiecutter.cloud not in ['aws', 'gcp', 'azure'] %}deploy/k8s/ray{% endif %}
{% if cookiecutter.cloud != 'aws' %}.github/workflows/deploy-aws.yml{% endif %}
{% if cookiecutter.cloud != 'aws' %}.github/workflows/infra-aws.yml{% endif %}
{% if cookiecutter.cloud != 'aws' %}.github/actions/aws-login{% endif %}
{% if cookiecutter.cloud != 'aws' %}.gitlab/deploy-aws.yml{% endif %}
{% if cookiecutter.cloud != 'gcp' %}deploy/gcp{% endif %}
{% if cookiecutter.cloud != 'gcp' %}tests/infrastructure/test_prefect_cloud_run_pool.py{% endif %}
{% if cookiecutter.cloud != 'gcp' %}orchestration/kubeflow/vertex.py{% endif %}
{% if cookiecutter.cloud != 'gcp' %}tests/infrastructure/test_kubeflow_vertex.py{% endif %}
{% if cookiecutter.cloud != 'gcp' %}.github/workflows/deploy-gcp.yml{% endif %}
{% if cookiecutter.cloud != 'gcp' %}.github/workflows/infra-gcp.yml{% endif %}
{% if cookiecutter.cloud != 'gcp' %}.github/actions/gcp-login{% endif %}
{% if cookiecutter.cloud != 'gcp' %}.gitlab/deploy-gcp.yml{% endif %}
{% if cookiecutter.cloud != 'azure' %}deploy/azure{% endif %}
{% if cookiecutter.cloud != 'azure' %}tests/infrastructure/test_prefect_aci_pool.py{% endif %}
{% if cookiecutter.cloud != 'azure' %}dags/airflow-values.yaml{% endif %}
{% if cookiecutter.cloud != 'azure' %}tests/infrastructure/test_airflow_aks.py{% endif %}
{% if cookiecutter.cloud != 'azure' %}.github/workflows/deploy-azure.yml{% endif %}
{% if cookiecutter.cloud != 'azure' %}.github/workflows/infra-azure.yml{% endif %}
{% if cookiecutter.cloud != 'azure' %}.github/actions/azure-login{% endif %}
{% if cookiecutter.cloud != 'azure' %}.gitlab/deploy-azure.yml{% endif %}
{% if cookiecutter.ci != 'github' %}.github{% endif %}
{% if cookiecutter.ci not in ['github', 'gitlab'] %}deploy/aws/terraform/ci.tf{% endif %}
{% if cookiecutter.ci not in ['github', 'gitlab'] %}deploy/aws/terraform/batch_scoring.tf{% endif %}
{% if cookiecutter.ci not in ['github', 'gitlab'] %}deploy/gcp/terraform/ci.tf{% endif %}
{% if cookiecutter.ci not in ['github', 'gitlab'] %}deploy/gcp/terraform/batch_scoring.tf{% endif %}
{% if cookiecutter.ci not in ['github', 'gitlab'] %}deploy/azure/terraform/ci.tf{% endif %}
{% if cookiecutter.ci not in ['github', 'gitlab'] %}deploy/azure/terraform/batch_scoring.tf{% endif %}
{% if cookiecutter.ci not in ['github', 'gitlab'] %}deploy/gcp/deploy.sh{% endif %}
{% if cookiecutter.ci not in ['github', 'gitlab'] %}deploy/azure/deploy.sh{% endif %}
{% if cookiecutter.ci != 'gitlab' %}.gitlab-ci.yml{% endif %}
{% if cookiecutter.ci != 'gitlab' %}.gitlab{% endif %}
{% if cookiecutter.ci != 'gitlab' %}renovate.json{% endif %}
{% if not ((cookiecutter.cloud == 'aws' and cookiecutter.orchestrator == 'prefect') or (cookiecutter.cloud in ['aws', 'azure'] and cookiecutter.orchestrator == 'kubeflow') or (cookiecutter.cloud in ['aws', 'gcp', 'azure'] and cookiecutter.orchestrator == 'dagster') or (cookiecutter.cloud in ['aws', 'gcp', 'azure'] and cookiecutter.orchestrator == 'flyte') or (cookiecutter.cloud == 'gcp' and cookiecutter.orchestrator == 'kubeflow') or (cookiecutter.orchestrator == 'dagster') or (cookiecutter.orchestrator == 'flyte') or (cookiecutter.orchestrator == 'kubeflow') or (cookiecutter.orchestrator == 'metaflow') or (cookiecutter.orchestrator == 'prefect')) %}/orchestration{% endif %}
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
