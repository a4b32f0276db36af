# Flyte: orchestration/flyte/workflows.py.
# pyflyte looks up a default task image for the running Python at start-up and has none for
# 3.13; every task here names its image (flyte.yaml), so the default is never used.
export FLYTE_INTERNAL_IMAGE ?= {{ cookiecutter.project_slug | replace('_', '-') }}:latest
PYFLYTE := uv run pyflyte

.PHONY: flow flyte-run flyte-monitor flyte-score flyte-register

flyte-run: ## Run the training workflow locally through Flyte (ingest, train, promote)
	$(PYFLYTE) run orchestration/flyte/workflows.py training

flyte-monitor: ## Run the monitoring workflow locally (retrains when drift is found)
	$(PYFLYTE) run orchestration/flyte/workflows.py monitoring

flyte-score: ## Run the batch-scoring workflow locally (the champion scores params.yaml score.input)
	$(PYFLYTE) run orchestration/flyte/workflows.py batch_scoring --kickoff_time $$(date -u +%FT%T)

flyte-register: ## Register the workflows and scheduled launch plans (FLYTE_PROJECT, FLYTE_DOMAIN)
	$(PYFLYTE) register --project $(FLYTE_PROJECT) --domain $(FLYTE_DOMAIN) \
		--activate-launchplans orchestration/flyte/workflows.py

flow: flyte-run ## Run the pipeline through Flyte (the training workflow, locally)
