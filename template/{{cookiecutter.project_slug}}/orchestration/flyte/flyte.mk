{% set on_cluster = cookiecutter.cloud != 'local' %}{% set cluster = {'aws': 'EKS', 'gcp': 'GKE', 'azure': 'AKS'}.get(cookiecutter.cloud) -%}
# Flyte: orchestration/flyte/workflows.py.
# pyflyte looks up a default task image for the running Python at start-up and has none for
# 3.13; every task here names its image (flyte.yaml), so the default is never used.
export FLYTE_INTERNAL_IMAGE ?= {{ cookiecutter.project_slug | replace('_', '-') }}:latest
PYFLYTE := uv run pyflyte

.PHONY: flow flyte-run flyte-monitor flyte-score {% if on_cluster %}flyte-install flow-deploy{% else %}flyte-register{% endif %}

flyte-run: ## Run the training workflow locally through Flyte (ingest, train, promote)
	$(PYFLYTE) run orchestration/flyte/workflows.py training

flyte-monitor: ## Run the monitoring workflow locally (retrains when drift is found)
	$(PYFLYTE) run orchestration/flyte/workflows.py monitoring

flyte-score: ## Run the batch-scoring workflow locally (the champion scores params.yaml score.input)
	$(PYFLYTE) run orchestration/flyte/workflows.py batch_scoring --kickoff_time $$(date -u +%FT%T)
{%- if on_cluster %}

# Flyte on {{ cluster }} (README.md, "On {{ {'aws': 'AWS', 'gcp': 'Google Cloud', 'azure': 'Azure'}[cookiecutter.cloud] }}"), in the namespace flyte of kubectl's context:
# the flyte-binary chart with the values Terraform renders (deploy/{{ cookiecutter.cloud }}/terraform/flyte.tf).
FLYTE_CHART_VERSION := v1.16.8
FLYTE_DOMAIN ?= development

# The password is read before it is piped to kubectl: a pipe would hide a failed read and
# store an empty password.
flyte-install: ## Install or upgrade Flyte on {{ cluster }} (its database password, the flyte-binary chart); again after data.raw_path changes
	kubectl create namespace flyte --dry-run=client -o yaml | kubectl apply -f -
{%- if cookiecutter.cloud == 'aws' %}
	password=$$(aws secretsmanager get-secret-value --secret-id $(call tf_output,flyte_database_secret) \
		--query SecretString --output text) \
{%- elif cookiecutter.cloud == 'gcp' %}
	password=$$(gcloud secrets versions access latest --secret=$(call tf_output,flyte_database_secret)) \
{%- else %}
	password=$$(az keyvault secret show --id $(call tf_output,flyte_database_secret) --query value --output tsv) \
{%- endif %}
		&& printf 'database:\n  postgres:\n    password: "%s"\n' "$$password" \
		| kubectl -n flyte create secret generic flyte-database \
			--from-file=100-database-password.yaml=/dev/stdin --dry-run=client -o yaml \
		| kubectl apply -f -
	$(TF) output -raw flyte_helm_values | helm upgrade --install flyte flyte-binary \
		--repo https://flyteorg.github.io/flyte --version $(FLYTE_CHART_VERSION) \
		--namespace flyte --values - --wait --timeout 10m \
		--set-string configuration.inline.plugins.k8s.default-env-vars.{{ cookiecutter.project_slug | upper }}_DATA__RAW_PATH=/workspace/$(RAW_PATH)

# Registers through a port-forward to the control plane (no ingress: the console and API
# are not exposed; README.md says how to publish them behind authentication).
flow-deploy: ## Register the workflows on Flyte on {{ cluster }}, schedules active (TRAINING_IMAGE: make flow-image's digest)
	$(if $(findstring @sha256:,$(TRAINING_IMAGE)),,$(error TRAINING_IMAGE must be the tasks' image pinned by digest (REPOSITORY@sha256:...), not '$(TRAINING_IMAGE)': make flow-image prints it))
	kubectl -n flyte port-forward deployment/flyte 8088:8088 8089:8089 >/dev/null & forward=$$!; \
	trap "kill $$forward 2>/dev/null" EXIT; \
	timeout 60 sh -c 'until curl -fs -o /dev/null http://localhost:8088/healthcheck; do sleep 1; done' \
		|| { echo "Flyte's control plane did not answer on the port-forward (make flyte-install?)" >&2; exit 1; }; \
	PIPELINE_IMAGE=$(TRAINING_IMAGE) FLYTE_PLATFORM_URL=dns:///localhost:8089 FLYTE_PLATFORM_INSECURE=true \
		$(PYFLYTE) register --project {{ cookiecutter.project_slug | replace('_', '-') }} --domain $(FLYTE_DOMAIN) \
		--activate-launchplans orchestration/flyte/workflows.py
{%- else %}

flyte-register: ## Register the workflows and scheduled launch plans (FLYTE_PROJECT, FLYTE_DOMAIN)
	$(PYFLYTE) register --project $(FLYTE_PROJECT) --domain $(FLYTE_DOMAIN) \
		--activate-launchplans orchestration/flyte/workflows.py
{%- endif %}

flow: flyte-run ## Run the pipeline through Flyte (the training workflow, locally)
