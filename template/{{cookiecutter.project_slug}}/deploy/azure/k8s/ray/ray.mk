# The Ray jobs on AKS (README.md beside this file), in the current kubectl context's cluster
# with the KubeRay operator. Uses azure.mk's tf_output, AKS_NAMESPACE and RAW_PATH.

.PHONY: aks-ray-train aks-ray-score

# $(1): the job (train or score), $(2): its training image. Replaces a finished job of that
# name with a new one; the other job's RayJob is left out of what is applied. The service
# account `ray` names the training jobs' managed identity, whose token Workload ID projects.
define aks_ray_job
	kubectl -n $(AKS_NAMESPACE) delete rayjob $(1) --ignore-not-found --wait
	$(eval RUN := $(shell mktemp -d /tmp/ray-job.XXXXXX))
	@# kustomize takes relative paths only: from /tmp/ray-job.*, ../.. is the root.
	printf '%s\n' 'resources: [../..$(CURDIR)/deploy/azure/k8s/ray]' \
		'images: [{name: training, newName: "$(2)"}]' \
		'patches:' '  - target: {kind: ServiceAccount, name: ray}' '    patch: |-' \
		'      - op: add' '        path: /metadata/annotations' '        value:' \
		'          azure.workload.identity/client-id: $(call tf_output,trainer_client_id)' \
		> $(RUN)/kustomization.yaml
	kubectl kustomize $(RUN) \
		| kubectl apply -l 'app.kubernetes.io/instance!=$(if $(filter train,$(1)),score,train)' -f -
	rm -r $(RUN)
	@echo "follow it: kubectl -n $(AKS_NAMESPACE) logs -f job/$(1) (deploy/azure/k8s/ray/README.md)"
endef

aks-ray-train: ## Train on AKS with KubeRay: the pipeline as a RayJob on a Ray cluster of its own
	$(eval REPOSITORY := $(call tf_output,image_repository))
	$(eval ACCOUNT := $(call tf_output,storage_account))
	$(eval JOB := $(shell date -u +%Y%m%d-%H%M%S))
	$(eval STORE := $(call tf_output,ray_store_url)/$(JOB))
	$(eval TRAINING_IMAGE := $(REPOSITORY):train-$(shell git rev-parse --short HEAD)-$(shell date -u +%s))
	docker build --target training -t $(TRAINING_IMAGE) .
	az acr login --name $(call tf_output,registry)
	docker push $(TRAINING_IMAGE)
	az storage blob upload --auth-mode login --account-name $(ACCOUNT) \
		--container-name artifacts --name ray/$(JOB)/raw/$(notdir $(RAW_PATH)) --file $(RAW_PATH) --overwrite
	kubectl apply -f deploy/azure/k8s/namespace.yaml
	@# Ray Train reads and writes through pyarrow, which names Azure Blob Storage abfs://.
	kubectl -n $(AKS_NAMESPACE) create configmap ray-train --dry-run=client -o yaml \
		--from-literal=raw_url=$(STORE)/raw/$(notdir $(RAW_PATH)) --from-literal=store_url=$(STORE) \
		--from-literal=ray_storage_url=abfs://artifacts@$(ACCOUNT).dfs.core.windows.net/ray/$(JOB)/ray-results | kubectl apply -f -
	$(call aks_ray_job,train,$(TRAINING_IMAGE))
	@echo "models and reports: $(STORE)/; to score with this model:"
	@echo "make aks-ray-score TRAINING_IMAGE=$(TRAINING_IMAGE) MODEL=$(STORE)/models/champion INPUT=... OUTPUT=..."

aks-ray-score: ## Batch-score on AKS with KubeRay: TRAINING_IMAGE=<image> MODEL=<run>/models/champion INPUT=az://... OUTPUT=az://...
	$(if $(and $(TRAINING_IMAGE),$(MODEL),$(INPUT),$(OUTPUT)),,$(error usage: make aks-ray-score \
		TRAINING_IMAGE=<image> MODEL=<run>/models/champion INPUT=<URL> OUTPUT=<URL>, as make aks-ray-train prints))
	kubectl apply -f deploy/azure/k8s/namespace.yaml
	kubectl -n $(AKS_NAMESPACE) create configmap ray-score --dry-run=client -o yaml \
		--from-literal=model_url=$(MODEL) --from-literal=input_url=$(INPUT) \
		--from-literal=output_url=$(OUTPUT) | kubectl apply -f -
	$(call aks_ray_job,score,$(TRAINING_IMAGE))
