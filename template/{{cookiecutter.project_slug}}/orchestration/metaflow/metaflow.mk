# Metaflow's targets, included by the project's Makefile.
METAFLOW_DIR := orchestration/metaflow
.PHONY: flow flow-monitor flow-score metaflow-cards flow-namespace flow-deploy

flow: ## Run the pipeline as a Metaflow flow (local runtime and datastore under .metaflow/)
	uv run python $(METAFLOW_DIR)/training_flow.py run

flow-monitor: ## Run the monitoring flow locally (it only reports; deployed, it triggers training)
	uv run python $(METAFLOW_DIR)/monitoring_flow.py run

flow-score: ## Run the batch-scoring flow locally (the champion scores params.yaml score.input)
	uv run python $(METAFLOW_DIR)/scoring_flow.py run

metaflow-cards: ## Browse the evaluation cards of local runs on http://127.0.0.1:8324
	uv run python $(METAFLOW_DIR)/training_flow.py card server

flow-namespace: ## Create the steps' namespace, service account and workspace volume (kubectl's context)
	kubectl apply -k $(METAFLOW_DIR)/k8s
{%- if cookiecutter.cloud == 'azure' %}
	kubectl -n {{ cookiecutter.project_slug | replace('_', '-') }}-metaflow annotate serviceaccount metaflow-steps --overwrite \
		azure.workload.identity/client-id=$(call tf_output,metaflow_steps_client_id)
{%- endif %}

{%- if cookiecutter.__flow_image %}
{%- set cluster = {'gcp': 'GKE', 'aws': 'EKS', 'azure': 'AKS'}[cookiecutter.cloud] %}

# The flows' schedules and trigger on Argo Workflows, every step a pod of TRAINING_IMAGE on
# the workspace volume, as Terraform's metaflow_on_{{ cluster | lower }} says (the datastore, the namespace,
# the steps' service account and settings). ARGO_OPTIONS=--only-json prints the templates.
flow-deploy: ## Deploy the flows to Argo Workflows on {{ cluster }} (TRAINING_IMAGE: make flow-image's digest)
	$(if $(TRAINING_IMAGE),,$(error set TRAINING_IMAGE to the image the steps run: make flow-image prints it))
	echo '$(call tf_output,metaflow_on_{{ cluster | lower }})' | uv run python $(METAFLOW_DIR)/argo.py \
		--cloud - --image $(TRAINING_IMAGE) -- $(ARGO_OPTIONS)
{%- else %}

# The flows' schedules and trigger on Argo Workflows, every step a pod on the workspace
# volume (argo.py), with your Metaflow configuration (`metaflow configure kubernetes`).
# ARGO_OPTIONS=--only-json prints the templates.
flow-deploy: ## Deploy the flows to Argo Workflows on Kubernetes (schedules and the trigger)
	uv run python $(METAFLOW_DIR)/argo.py -- $(ARGO_OPTIONS)
{%- endif %}
