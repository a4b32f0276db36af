# Kubeflow Pipelines: orchestration/kubeflow/pipeline.py.
KFP := uv run python orchestration/kubeflow/pipeline.py

.PHONY: flow pipeline-compile kubeflow-run kubeflow-schedule

pipeline-compile: ## Compile the training and monitoring pipelines to build/kubeflow/*.yaml
	$(KFP) compile build/kubeflow

kubeflow-run: ## Run both pipelines locally (kfp.local, the components as subprocesses)
	$(KFP) run

kubeflow-schedule: ## Recurring runs on Kubeflow Pipelines at KFP_HOST (weekly train, daily monitor)
	$(KFP) schedule $(KFP_HOST)

flow: kubeflow-run ## Run the pipeline through Kubeflow Pipelines (kfp.local)
