# Dagster's targets, included by the project's Makefile.
DAGSTER_WORKSPACE := orchestration/dagster/workspace.yaml
# A persistent Dagster instance in .dagster/ (runs kept between sessions; its own .gitignore
# keeps it out of git). Its dagster.yaml, from this directory, turns usage statistics off;
# DAGSTER_DISABLE_TELEMETRY also stops their upload where another instance is used.
export DAGSTER_HOME ?= $(CURDIR)/.dagster
export DAGSTER_DISABLE_TELEMETRY ?= true
.PHONY: flow flow-score dagster-ui{% if cookiecutter.__flow_image %} flow-namespace flow-deploy{% endif %}

# Created once: a dagster.yaml already in DAGSTER_HOME (yours) is left as it is.
$(DAGSTER_HOME)/dagster.yaml: | orchestration/dagster/dagster.yaml
	mkdir -p $(@D)
	test -e $(@D)/.gitignore || echo '*' > $(@D)/.gitignore
	cp orchestration/dagster/dagster.yaml $@

flow: $(DAGSTER_HOME)/dagster.yaml ## Materialize every asset of the pipeline with Dagster (in-process, nothing to start)
	uv run dagster job execute -f orchestration/dagster/definitions.py -d . -j training

flow-score: $(DAGSTER_HOME)/dagster.yaml ## Materialize today's batch_scores: the champion scores params.yaml score.input
	uv run dagster job execute -f orchestration/dagster/definitions.py -d . -j batch_scoring \
		--tags "{\"dagster/partition\": \"$$(date -u +%F)\"}"

dagster-ui: $(DAGSTER_HOME)/dagster.yaml ## Dagster's UI, schedule and sensor daemon on http://127.0.0.1:3000
	uv run dagster dev -w $(DAGSTER_WORKSPACE) -h 127.0.0.1 -p 3000
{%- if cookiecutter.__flow_image %}
{%- set cluster = {'gcp': 'GKE', 'aws': 'EKS', 'azure': 'AKS'}[cookiecutter.cloud] %}

# Dagster+ Hybrid: the location file flow-deploy writes, then sends to Dagster+.
DAGSTER_LOCATION_FILE ?= build/dagster_cloud.yaml

flow-namespace: ## Create the code location's namespace, service account and workspace volume (kubectl's context)
	kubectl apply -k orchestration/dagster/k8s
{%- if cookiecutter.cloud == 'azure' %}
	kubectl -n {{ cookiecutter.project_slug | replace('_', '-') }}-dagster annotate serviceaccount dagster-steps --overwrite \
		azure.workload.identity/client-id=$(call tf_output,dagster_steps_client_id)
{%- endif %}

# The code location on Dagster+, its server and runs pods of TRAINING_IMAGE on {{ cluster }} as
# Terraform's dagster_on_{{ cluster | lower }} says. dagster-cloud reads DAGSTER_CLOUD_URL (or
# DAGSTER_CLOUD_ORGANIZATION and DAGSTER_CLOUD_DEPLOYMENT) and DAGSTER_CLOUD_API_TOKEN.
flow-deploy: ## Deploy the code location to Dagster+, run by its agent on {{ cluster }} (TRAINING_IMAGE: make flow-image's digest)
	$(if $(TRAINING_IMAGE),,$(error set TRAINING_IMAGE to the image the runs use: make flow-image prints it))
	echo '$(call tf_output,dagster_on_{{ cluster | lower }})' | uv run python orchestration/dagster/plus.py \
		$(DAGSTER_LOCATION_FILE) --image $(TRAINING_IMAGE) --cloud -
	uv run dagster-cloud deployment add-location --location-file $(DAGSTER_LOCATION_FILE) \
		--location-name {{ cookiecutter.project_slug }}
{%- endif %}
