# Kubeflow Pipelines: orchestration/kubeflow/pipeline.py.
KFP := uv run python orchestration/kubeflow/pipeline.py

.PHONY: flow pipeline-compile kubeflow-run kubeflow-schedule{% if cookiecutter.cloud == 'gcp' %} flow-deploy{% endif %}

pipeline-compile: ## Compile the training, monitoring and batch-scoring pipelines to build/kubeflow/*.yaml
	$(KFP) compile build/kubeflow

kubeflow-run: ## Run the pipelines locally (kfp.local, the components as subprocesses)
	$(KFP) run

kubeflow-schedule: ## Recurring runs on Kubeflow Pipelines at KFP_HOST (weekly train, daily monitor and score)
	$(KFP) schedule $(KFP_HOST)

flow: kubeflow-run ## Run the pipeline through Kubeflow Pipelines (kfp.local)
{%- if cookiecutter.cloud == 'gcp' %}

flow-deploy: ## Schedule the pipelines on Vertex AI Pipelines (TRAINING_IMAGE: make flow-image's digest)
	$(if $(TRAINING_IMAGE),,$(error set TRAINING_IMAGE to the image the components run: make flow-image prints it))
	echo '$(call tf_output,vertex_pipelines)' | PIPELINE_IMAGE=$(TRAINING_IMAGE) \
		PIPELINE_ENV='$(call tf_output,vertex_pipeline_env)' uv run python -m orchestration.kubeflow.vertex
{%- endif %}
