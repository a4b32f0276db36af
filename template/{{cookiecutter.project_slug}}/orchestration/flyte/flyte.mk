# Flyte: orchestration/flyte/workflows.py.
PYFLYTE := uv run pyflyte

.PHONY: flow flyte-run flyte-monitor flyte-register

flyte-run: ## Run the training workflow locally through Flyte (ingest, train, promote)
	$(PYFLYTE) run orchestration/flyte/workflows.py training

flyte-monitor: ## Run the monitoring workflow locally (retrains when drift is found)
	$(PYFLYTE) run orchestration/flyte/workflows.py monitoring

flyte-register: ## Register the workflows and scheduled launch plans (FLYTE_PROJECT, FLYTE_DOMAIN)
	$(PYFLYTE) register --project $(FLYTE_PROJECT) --domain $(FLYTE_DOMAIN) \
		--activate-launchplans orchestration/flyte/workflows.py

flow: flyte-run ## Run the pipeline through Flyte (the training workflow, locally)
