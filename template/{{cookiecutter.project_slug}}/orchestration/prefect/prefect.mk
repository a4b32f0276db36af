# Prefect's targets, included by the project's Makefile.
PREFECT_FILE := orchestration/prefect/prefect.yaml
PREFECT_POOL := {{ cookiecutter.project_slug | replace('_', '-') }}-{{ cookiecutter.__prefect_work_pool }}
# No usage analytics from Prefect's server (the temporary one `make flow` starts included).
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
# The temporary server migrates a fresh database first: give it more than Prefect's 20 s.
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180
.PHONY: flow flow-monitor flow-score prefect-ui flow-deploy prefect-worker{% if cookiecutter.__prefect_pool_terraform %} flow-image{% endif %}

flow: ## Run the pipeline as a Prefect flow (a temporary local server, nothing to start)
	uv run python -c "from orchestration.prefect.flows import training; training()"

flow-monitor: ## Run the monitoring flow (it runs the training flow when retraining is due)
	uv run python -c "from orchestration.prefect.flows import monitoring; monitoring()"

flow-score: ## Run the batch-scoring flow: the champion scores params.yaml score.input
	uv run python -c "from orchestration.prefect.flows import batch_scoring; batch_scoring()"

prefect-ui: ## Start a Prefect server and its UI on http://127.0.0.1:4200
	uv run prefect server start --host 127.0.0.1 --port 4200

flow-deploy: ## Create the work pool and the scheduled deployments (prefect.yaml)
{%- if cookiecutter.__prefect_work_pool != 'process' %}
	$(if $(TRAINING_IMAGE),,$(error set TRAINING_IMAGE to the image the flows run in: make flow-image prints it))
{%- endif %}
{%- if cookiecutter.__prefect_pool_terraform %}
	@# The pool's job variables (cluster, network, identities, logs) from Terraform's output.
	template=$$(mktemp) && trap 'rm -f "$$template"' EXIT && \
	echo '$(call tf_output,prefect_work_pool)' \
		| uv run python -m orchestration.prefect.work_pool {{ cookiecutter.__prefect_work_pool }} > "$$template" && \
	uv run prefect work-pool create $(PREFECT_POOL) --type {{ cookiecutter.__prefect_work_pool }} \
		--base-job-template "$$template" --overwrite
{%- else %}
	uv run prefect work-pool create $(PREFECT_POOL) --type {{ cookiecutter.__prefect_work_pool }} --overwrite
{%- endif %}
{%- if cookiecutter.__prefect_work_pool == 'process' %}
	uv run prefect deploy --prefect-file $(PREFECT_FILE) --all
{%- else %}
	TRAINING_IMAGE=$(TRAINING_IMAGE) uv run prefect deploy --prefect-file $(PREFECT_FILE) --all
{%- endif %}

prefect-worker: ## Start a worker that runs the deployments' flow runs
	uv run prefect worker start --pool $(PREFECT_POOL)
{%- if cookiecutter.__prefect_pool_terraform %}

flow-image: ## Build the flows' image, push it to the cloud's registry, print it by digest
{%- if cookiecutter.__prefect_work_pool == 'ecs' %}
	$(eval REPOSITORY := $(call tf_output,ecr_repository_url))
	$(eval FLOW_TAG := $(REPOSITORY):flows-$(shell git rev-parse --short HEAD)-$(shell date -u +%s))
	docker build --target training -t $(FLOW_TAG)-training .
	@# ECS keeps an image's entrypoint whatever the command: ecs.Dockerfile clears it.
	docker build -f orchestration/prefect/ecs.Dockerfile --build-arg TRAINING_IMAGE=$(FLOW_TAG)-training -t $(FLOW_TAG) .
	aws ecr get-login-password --region $(call tf_output,region) \
		| docker login --username AWS --password-stdin $(firstword $(subst /, ,$(REPOSITORY)))
{%- else %}
	$(eval REPOSITORY := $(call tf_output,image_repository))
	$(eval FLOW_TAG := $(REPOSITORY):flows-$(shell git rev-parse --short HEAD)-$(shell date -u +%s))
	docker build --target training -t $(FLOW_TAG) .
{%- if cookiecutter.__prefect_work_pool == 'cloud-run-v2' %}
	gcloud auth configure-docker $(firstword $(subst /, ,$(REPOSITORY))) --quiet
{%- else %}
	az acr login --name $(call tf_output,registry)
{%- endif %}
{%- endif %}
	docker push --quiet $(FLOW_TAG)
	@docker inspect --format '{% raw %}{{index .RepoDigests 0}}{% endraw %}' $(FLOW_TAG)
{%- endif %}
