# Kubeflow Pipelines: orchestration/kubeflow/pipeline.py.
KFP := uv run python orchestration/kubeflow/pipeline.py

.PHONY: flow pipeline-compile kubeflow-run kubeflow-schedule{% if cookiecutter.cloud in ('aws', 'azure') %} kubeflow-install{% endif %}{% if cookiecutter.cloud != 'local' %} flow-deploy{% endif %}

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
{%- elif cookiecutter.cloud in ('aws', 'azure') %}
{%- set cluster = {'aws': 'EKS', 'azure': 'AKS'}[cookiecutter.cloud] %}

# Kubeflow Pipelines standalone on {{ cluster }} (README.md, "On {{ {'aws': 'AWS', 'azure': 'Azure'}[cookiecutter.cloud] }}"), in the namespace kubeflow of
# kubectl's context: its manifests at KFP_VERSION, as Kubeflow's standalone install applies
# them, then the components' workspace volume{% if cookiecutter.cloud == 'azure' %} and their identity on pipeline-runner{% endif %}.
KFP_VERSION := 2.17.0
KFP_MANIFESTS := github.com/kubeflow/pipelines/manifests/kustomize
# The local end of flow-deploy's port-forward.
KFP_PORT ?= 8080

kubeflow-install: ## Install or upgrade Kubeflow Pipelines on {{ cluster }} (standalone, KFP_VERSION) and the components' workspace volume
	kubectl apply -k "$(KFP_MANIFESTS)/cluster-scoped-resources?ref=$(KFP_VERSION)"
	kubectl wait --for condition=established --timeout=60s crd/applications.app.k8s.io
	kubectl apply -k "$(KFP_MANIFESTS)/env/platform-agnostic?ref=$(KFP_VERSION)"
	kubectl apply -k orchestration/kubeflow/k8s
{%- if cookiecutter.cloud == 'azure' %}
	kubectl -n kubeflow annotate serviceaccount pipeline-runner --overwrite \
		azure.workload.identity/client-id=$(call tf_output,kubeflow_components_client_id)
{%- endif %}
	kubectl -n kubeflow wait pods -l application-crd-id=kubeflow-pipelines --for condition=Ready --timeout=30m

# Schedules through a port-forward to the UI's service, which proxies the API (no ingress:
# the UI and API are not exposed; README.md says how to publish them behind authentication).
flow-deploy: ## Schedule the pipelines on Kubeflow Pipelines on {{ cluster }} (TRAINING_IMAGE: make flow-image's digest)
	$(if $(findstring @sha256:,$(TRAINING_IMAGE)),,$(error TRAINING_IMAGE must be the components' image pinned by digest (REPOSITORY@sha256:...), not '$(TRAINING_IMAGE)': make flow-image prints it))
	kubectl -n kubeflow port-forward svc/ml-pipeline-ui $(KFP_PORT):80 >/dev/null & forward=$$!; \
	trap "kill $$forward 2>/dev/null" EXIT; \
	timeout 60 sh -c 'until curl -fs -o /dev/null http://localhost:$(KFP_PORT)/apis/v2beta1/healthz; do sleep 1; done' \
		|| { echo "Kubeflow Pipelines did not answer on the port-forward (make kubeflow-install?)" >&2; exit 1; }; \
	PIPELINE_IMAGE=$(TRAINING_IMAGE) PIPELINE_ENV='$(call tf_output,kubeflow_pipeline_env)' \
		PIPELINE_POD='$(call tf_output,kubeflow_pipeline_pod)' $(KFP) schedule http://localhost:$(KFP_PORT)
{%- endif %}
