# MLflow's targets, included by the project's Makefile.
.PHONY: mlflow-ui

mlflow-ui: ## Browse runs and registered models on http://127.0.0.1:5000
	uv run mlflow ui --backend-store-uri sqlite:///models/mlflow.db --host 127.0.0.1 --port 5000
