# Kubeflow Pipelines: orchestration/kubeflow/pipeline.py.
KFP := uv run python orchestration/kubeflow/pipeline.py

.PHONY: flow pipeline-compile kubeflow-run kubeflow-schedule

pipeline-compile: ## Compile the training, monitoring and batch-scoring pipelines to build/kubeflow/*.yaml
	$(KFP) compile build/kubeflow

kubeflow-run: ## Run the pipelines locally (kfp.local, the components as subprocesses)
	$(KFP) run

kubeflow-schedule: ## Recurring runs on Kubeflow Pipelines at KFP_HOST (weekly train, daily monitor and score)
	$(KFP) schedule $(KFP_HOST)

flow: kubeflow-run ## Run the pipeline through Kubeflow Pipelines (kfp.local)
