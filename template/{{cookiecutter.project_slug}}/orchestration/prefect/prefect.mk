# Prefect's targets, included by the project's Makefile.
PREFECT_FILE := orchestration/prefect/prefect.yaml
PREFECT_POOL := {{ cookiecutter.project_slug | replace('_', '-') }}-{{ cookiecutter.__prefect_work_pool }}
{%- if cookiecutter.__prefect_work_pool != 'process' %}
TRAINING_IMAGE ?= $(error set TRAINING_IMAGE to the image the flows run in)
{%- endif %}
# No usage analytics from Prefect's server (the temporary one `make flow` starts included).
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
# The temporary server migrates a fresh database first: give it more than Prefect's 20 s.
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180
.PHONY: flow flow-monitor flow-score prefect-ui flow-deploy prefect-worker

flow: ## Run the pipeline as a Prefect flow (a temporary local server, nothing to start)
	uv run python -c "from orchestration.prefect.flows import training; training()"

flow-monitor: ## Run the monitoring flow (it runs the training flow when retraining is due)
	uv run python -c "from orchestration.prefect.flows import monitoring; monitoring()"

flow-score: ## Run the batch-scoring flow: the champion scores params.yaml score.input
	uv run python -c "from orchestration.prefect.flows import batch_scoring; batch_scoring()"

prefect-ui: ## Start a Prefect server and its UI on http://127.0.0.1:4200
	uv run prefect server start --host 127.0.0.1 --port 4200

flow-deploy: ## Create the work pool and the scheduled deployments (prefect.yaml)
	uv run prefect work-pool create $(PREFECT_POOL) --type {{ cookiecutter.__prefect_work_pool }} --overwrite
{%- if cookiecutter.__prefect_work_pool == 'process' %}
	uv run prefect deploy --prefect-file $(PREFECT_FILE) --all
{%- else %}
	uv run prefect deploy --prefect-file $(PREFECT_FILE) --all --job-variable image=$(TRAINING_IMAGE)
{%- endif %}

prefect-worker: ## Start a worker that runs the deployments' flow runs
	uv run prefect worker start --pool $(PREFECT_POOL)
