# Metaflow's targets, included by the project's Makefile.
METAFLOW_DIR := orchestration/metaflow
.PHONY: flow flow-monitor flow-score metaflow-cards flow-deploy

flow: ## Run the pipeline as a Metaflow flow (local runtime and datastore under .metaflow/)
	uv run python $(METAFLOW_DIR)/training_flow.py run

flow-monitor: ## Run the monitoring flow locally (it only reports; deployed, it triggers training)
	uv run python $(METAFLOW_DIR)/monitoring_flow.py run

flow-score: ## Run the batch-scoring flow locally (the champion scores params.yaml score.input)
	uv run python $(METAFLOW_DIR)/scoring_flow.py run

metaflow-cards: ## Browse the evaluation cards of local runs on http://127.0.0.1:8324
	uv run python $(METAFLOW_DIR)/training_flow.py card server

flow-deploy: ## Deploy the flows to Argo Workflows on Kubernetes (schedules and the trigger)
	uv run python $(METAFLOW_DIR)/training_flow.py --with kubernetes argo-workflows create
	uv run python $(METAFLOW_DIR)/monitoring_flow.py --with kubernetes argo-workflows create
	uv run python $(METAFLOW_DIR)/scoring_flow.py --with kubernetes argo-workflows create
