# Dagster's targets, included by the project's Makefile.
DAGSTER_WORKSPACE := orchestration/dagster/workspace.yaml
# No usage telemetry from Dagster's CLI, webserver and daemon.
export DAGSTER_DISABLE_TELEMETRY ?= true
.PHONY: flow dagster-ui

flow: ## Materialize every asset of the pipeline with Dagster (in-process, nothing to start)
	uv run dagster job execute -f orchestration/dagster/definitions.py -d . -j training

dagster-ui: ## Dagster's UI, schedule and sensor daemon on http://127.0.0.1:3000
	uv run dagster dev -w $(DAGSTER_WORKSPACE) -h 127.0.0.1 -p 3000
