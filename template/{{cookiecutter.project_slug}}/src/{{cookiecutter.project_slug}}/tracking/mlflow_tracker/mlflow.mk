# MLflow's targets, included by the project's Makefile.
# MLflow's own telemetry switch (it honours DO_NOT_TRACK too).
export MLFLOW_DISABLE_TELEMETRY ?= true
.PHONY: mlflow-ui

mlflow-ui: ## Browse runs and registered models on http://127.0.0.1:5000
	uv run mlflow ui --backend-store-uri sqlite:///models/mlflow.db --host 127.0.0.1 --port 5000
