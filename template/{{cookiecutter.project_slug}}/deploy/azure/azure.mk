# Azure: infrastructure (deploy/azure/terraform), training on Azure ML, serving on AKS.
# Needs terraform, the Azure CLI with its ml extension (`az login`,
# `az extension add --name ml`) and, to build images, Docker.
TF := terraform -chdir=deploy/azure/terraform
tf_output = $(or $(shell $(TF) output -raw $(1) 2>/dev/null),$(error no Terraform output "$(1)": run make infra-init infra-plan infra-apply first))
TF_STATE_KEY ?= {{ cookiecutter.project_slug | replace('_', '-') | trim('-') }}.tfstate
AKS_NAMESPACE ?= {{ cookiecutter.project_slug | replace('_', '-') | trim('-') }}
# The raw data the job trains on: params.yaml's data.raw_path (`adopt` sets it), or the
# {{ cookiecutter.project_slug | upper }}_DATA__RAW_PATH variable that overrides it, as the CLI reads them.
RAW_PATH = $(or $({{ cookiecutter.project_slug | upper }}_DATA__RAW_PATH),$(shell sed -n 's/^  raw_path: *\([^ \#]*\).*/\1/p' params.yaml))

.PHONY: infra-init infra-plan infra-apply azure-dvc-remote azure-train aks-deploy{% if cookiecutter.__flow_image %} flow-image{% endif %}

infra-init: ## Initialise Terraform with its blob state (TF_STATE_ACCOUNT=...)
	@test -n "$(TF_STATE_ACCOUNT)" || { echo "set TF_STATE_ACCOUNT (deploy/azure/README.md, State)"; exit 1; }
	$(TF) init -backend-config="storage_account_name=$(TF_STATE_ACCOUNT)" \
		-backend-config="key=$(TF_STATE_KEY)"

infra-plan: ## Plan the Azure infrastructure into deploy/azure/terraform/tfplan
	$(TF) plan -out=tfplan

infra-apply: ## Apply the reviewed plan (make infra-plan first)
	$(TF) apply tfplan

azure-dvc-remote: ## Make the artifacts container your DVC remote (in .dvc/config.local, git-ignored)
	uv run dvc remote add --local --default --force azure $(call tf_output,dvc_remote_url)
	uv run dvc remote modify --local azure account_name $(call tf_output,storage_account)

azure-train: ## Run the pipeline as an Azure ML command job (the image's training target)
	$(eval REPOSITORY := $(call tf_output,image_repository))
	$(eval ACCOUNT := $(call tf_output,storage_account))
	$(eval JOB := {{ cookiecutter.project_slug | replace('_', '-') | trim('-') }}-$(shell date -u +%Y%m%d-%H%M%S))
	$(eval FOLDER := azureml://datastores/artifacts/paths/training/$(JOB))
	$(eval TRAINING_IMAGE := $(REPOSITORY):train-$(shell git rev-parse --short HEAD)-$(shell date -u +%s))
	docker build --target training -t $(TRAINING_IMAGE) .
	az acr login --name $(call tf_output,registry)
	docker push $(TRAINING_IMAGE)
	az storage blob upload --auth-mode login --account-name $(ACCOUNT) --container-name artifacts \
		--name training/$(JOB)/raw/$(notdir $(RAW_PATH)) --file $(RAW_PATH) --overwrite
	az ml job create --file deploy/azure/ml/train-job.yml --name $(JOB) --stream \
		--resource-group $(call tf_output,resource_group) \
		--workspace-name $(call tf_output,ml_workspace) \
		--set environment.image=$(TRAINING_IMAGE) \
		--set inputs.raw.path=$(FOLDER)/raw/$(notdir $(RAW_PATH)) \
		--set outputs.models.path=$(FOLDER)/models \
		--set outputs.reports.path=$(FOLDER)/reports
	@echo "models and reports: https://$(ACCOUNT).blob.core.windows.net/artifacts/training/$(JOB)/"

aks-deploy: ## Serve on AKS (current kubectl context): IMAGE=<registry image>@sha256:...
	@test -n "$(IMAGE)" || { echo "set IMAGE to the image CD pushed, by digest"; exit 1; }
	kubectl apply -k deploy/azure/k8s
	kubectl -n $(AKS_NAMESPACE) create configmap inference-log \
		--from-literal=url=$(call tf_output,inference_log_url) --dry-run=client -o yaml | kubectl apply -f -
	kubectl -n $(AKS_NAMESPACE) create configmap model-signers \
		--from-literal=json='$(call tf_output,trusted_signers)' --dry-run=client -o yaml | kubectl apply -f -
	kubectl -n $(AKS_NAMESPACE) annotate serviceaccount api --overwrite \
		azure.workload.identity/client-id=$(call tf_output,api_client_id)
	kubectl -n $(AKS_NAMESPACE) set image deployment/api api=$(IMAGE)
	kubectl -n $(AKS_NAMESPACE) rollout status deployment/api --timeout=5m
{%- if cookiecutter.__flow_image %}

# The image the orchestrator's deployed steps run (make flow-deploy TRAINING_IMAGE=...).
flow-image: ## Build the deployed steps' image (the training target), push it to Azure Container Registry, print it by digest
	$(eval REPOSITORY := $(call tf_output,image_repository))
	$(eval FLOW_TAG := $(REPOSITORY):pipeline-$(shell git rev-parse --short HEAD)-$(shell date -u +%s))
	docker build --target training -t $(FLOW_TAG) .
	az acr login --name $(call tf_output,registry)
	docker push --quiet $(FLOW_TAG)
	@docker inspect --format '{% raw %}{{index .RepoDigests 0}}{% endraw %}' $(FLOW_TAG)
{%- endif %}
