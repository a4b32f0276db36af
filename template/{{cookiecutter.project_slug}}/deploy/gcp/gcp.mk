# Google Cloud: infrastructure (deploy/gcp/terraform), training on Vertex AI, serving on GKE.
# Needs terraform, the gcloud CLI (signed in: `gcloud auth login` and
# `gcloud auth application-default login`) and, to build images, Docker.
TF := terraform -chdir=deploy/gcp/terraform
tf_output = $(or $(shell $(TF) output -raw $(1) 2>/dev/null),$(error no Terraform output "$(1)": run make infra-init infra-plan infra-apply first))
GCP_REGION ?= $(call tf_output,region)
TRAINING_MACHINE ?= n2-standard-4
GKE_NAMESPACE ?= {{ cookiecutter.project_slug | replace('_', '-') | trim('-') }}
# The raw data the job trains on: params.yaml's data.raw_path (`adopt` sets it), or the
# {{ cookiecutter.project_slug | upper }}_DATA__RAW_PATH variable that overrides it, as the CLI reads them.
RAW_PATH = $(or $({{ cookiecutter.project_slug | upper }}_DATA__RAW_PATH),$(shell sed -n 's/^  raw_path: *\([^ \#]*\).*/\1/p' params.yaml))

.PHONY: infra-init infra-plan infra-apply gcp-dvc-remote gcp-train gke-deploy{% if cookiecutter.__flow_image %} flow-image{% endif %}

infra-init: ## Initialise Terraform with its GCS state (TF_STATE_BUCKET=...)
	@test -n "$(TF_STATE_BUCKET)" || { echo "set TF_STATE_BUCKET (deploy/gcp/README.md, State)"; exit 1; }
	$(TF) init -backend-config="bucket=$(TF_STATE_BUCKET)"

infra-plan: ## Plan the Google Cloud infrastructure into deploy/gcp/terraform/tfplan
	$(TF) plan -out=tfplan

infra-apply: ## Apply the reviewed plan (make infra-plan first)
	$(TF) apply tfplan

gcp-dvc-remote: ## Make the artifact bucket your DVC remote (in .dvc/config.local, git-ignored)
	uv run dvc remote add --local --default --force gcs $(call tf_output,dvc_remote_url)

gcp-train: ## Run the pipeline as a Vertex AI custom job (the image's training target)
	$(eval PROJECT := $(call tf_output,project_id))
	$(eval REPOSITORY := $(call tf_output,image_repository))
	$(eval BUCKET := $(call tf_output,bucket))
	$(eval JOB := {{ cookiecutter.project_slug | replace('_', '-') | trim('-') }}-$(shell date -u +%Y%m%d-%H%M%S))
	$(eval TRAINING_IMAGE := $(REPOSITORY):train-$(shell git rev-parse --short HEAD)-$(shell date -u +%s))
	docker build --target training -t $(TRAINING_IMAGE) .
	gcloud auth configure-docker $(GCP_REGION)-docker.pkg.dev --quiet
	docker push $(TRAINING_IMAGE)
	gcloud storage cp $(RAW_PATH) gs://$(BUCKET)/training/$(JOB)/raw/$(notdir $(RAW_PATH))
	@# Vertex AI mounts the bucket at /gcs/<bucket> (Cloud Storage FUSE): the job reads the raw
	@# data there and writes models/ and reports/ next to it.
	printf '%s\n' \
		'workerPoolSpecs:' \
		'  - machineSpec: {machineType: $(TRAINING_MACHINE)}' \
		'    replicaCount: 1' \
		'    containerSpec:' \
		'      imageUri: $(TRAINING_IMAGE)' \
		'      env:' \
		'        - {name: {{ cookiecutter.project_slug | upper }}_DATA__RAW_PATH, value: /gcs/$(BUCKET)/training/$(JOB)/raw/$(notdir $(RAW_PATH))}' \
		'        - {name: {{ cookiecutter.project_slug | upper }}_MODELS_DIR, value: /gcs/$(BUCKET)/training/$(JOB)/models}' \
		'        - {name: {{ cookiecutter.project_slug | upper }}_REPORTS_DIR, value: /gcs/$(BUCKET)/training/$(JOB)/reports}' \
		'        - {name: {{ cookiecutter.project_slug | upper }}_SERVE__MODEL_DIR, value: /gcs/$(BUCKET)/training/$(JOB)/models/champion}' \
		'serviceAccount: $(call tf_output,trainer_service_account)' \
		> /tmp/$(JOB).yaml
	gcloud ai custom-jobs create --project=$(PROJECT) --region=$(GCP_REGION) \
		--display-name=$(JOB) --config=/tmp/$(JOB).yaml --format='value(name)' \
		> /tmp/$(JOB).id
	gcloud ai custom-jobs stream-logs $$(cat /tmp/$(JOB).id) --region=$(GCP_REGION) || true
	gcloud ai custom-jobs describe $$(cat /tmp/$(JOB).id) --region=$(GCP_REGION) \
		--format='value(state,error.message)'
	@echo "models and reports: gs://$(BUCKET)/training/$(JOB)/"

gke-deploy: ## Serve on GKE (current kubectl context): IMAGE=<Artifact Registry image>@sha256:...
	@test -n "$(IMAGE)" || { echo "set IMAGE to the image CD pushed, by digest"; exit 1; }
	kubectl apply -k deploy/gcp/k8s
	kubectl -n $(GKE_NAMESPACE) create configmap inference-log \
		--from-literal=url=$(call tf_output,inference_log_url) --dry-run=client -o yaml | kubectl apply -f -
	kubectl -n $(GKE_NAMESPACE) create configmap model-signers \
		--from-literal=json='$(call tf_output,trusted_signers)' --dry-run=client -o yaml | kubectl apply -f -
	kubectl -n $(GKE_NAMESPACE) annotate serviceaccount api --overwrite \
		iam.gke.io/gcp-service-account=$(call tf_output,api_service_account)
	kubectl -n $(GKE_NAMESPACE) set image deployment/api api=$(IMAGE)
	kubectl -n $(GKE_NAMESPACE) rollout status deployment/api --timeout=5m
{%- if cookiecutter.__flow_image %}

# The image the orchestrator's deployed steps run (make flow-deploy TRAINING_IMAGE=...).
flow-image: ## Build the deployed steps' image (the training target), push it to Artifact Registry, print it by digest
	$(eval REPOSITORY := $(call tf_output,image_repository))
	$(eval FLOW_TAG := $(REPOSITORY):pipeline-$(shell git rev-parse --short HEAD)-$(shell date -u +%s))
	docker build --target training -t $(FLOW_TAG) .
	gcloud auth configure-docker $(firstword $(subst /, ,$(REPOSITORY))) --quiet
	docker push --quiet $(FLOW_TAG)
	@docker inspect --format '{% raw %}{{index .RepoDigests 0}}{% endraw %}' $(FLOW_TAG)
{%- endif %}
