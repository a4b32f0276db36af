# The Ray jobs on GKE (README.md beside this file), in the current kubectl context's cluster
# with the KubeRay operator. Uses gcp.mk's tf_output, GCP_REGION and RAW_PATH.

.PHONY: gke-ray-train gke-ray-score

# $(1): the job (train or score), $(2): its training image. Replaces a finished job of that
# name with a new one; the other job's RayJob is left out of what is applied.
define gke_ray_job
	kubectl -n $(GKE_NAMESPACE) delete rayjob $(1) --ignore-not-found --wait
	$(eval RUN := $(shell mktemp -d /tmp/ray-job.XXXXXX))
	@# kustomize takes relative paths only: from /tmp/ray-job.*, ../.. is the root.
	printf '%s\n' 'resources: [../..$(CURDIR)/deploy/gcp/k8s/ray]' \
		'images: [{name: training, newName: "$(2)"}]' > $(RUN)/kustomization.yaml
	kubectl kustomize $(RUN) \
		| kubectl apply -l 'app.kubernetes.io/instance!=$(if $(filter train,$(1)),score,train)' -f -
	rm -r $(RUN)
	@echo "follow it: kubectl -n $(GKE_NAMESPACE) logs -f job/$(1) (deploy/gcp/k8s/ray/README.md)"
endef

gke-ray-train: ## Train on GKE with KubeRay: the pipeline as a RayJob on a Ray cluster of its own
	$(eval REPOSITORY := $(call tf_output,image_repository))
	$(eval STORE := $(call tf_output,ray_store_url)/$(shell date -u +%Y%m%d-%H%M%S))
	$(eval TRAINING_IMAGE := $(REPOSITORY):train-$(shell git rev-parse --short HEAD)-$(shell date -u +%s))
	docker build --target training -t $(TRAINING_IMAGE) .
	gcloud auth configure-docker $(GCP_REGION)-docker.pkg.dev --quiet
	docker push $(TRAINING_IMAGE)
	gcloud storage cp $(RAW_PATH) $(STORE)/raw/$(notdir $(RAW_PATH))
	kubectl apply -f deploy/gcp/k8s/namespace.yaml
	kubectl -n $(GKE_NAMESPACE) create configmap ray-train --dry-run=client -o yaml \
		--from-literal=raw_url=$(STORE)/raw/$(notdir $(RAW_PATH)) --from-literal=store_url=$(STORE) \
		--from-literal=ray_storage_url=$(STORE)/ray-results | kubectl apply -f -
	$(call gke_ray_job,train,$(TRAINING_IMAGE))
	@echo "models and reports: $(STORE)/; to score with this model:"
	@echo "make gke-ray-score TRAINING_IMAGE=$(TRAINING_IMAGE) MODEL=$(STORE)/models/champion INPUT=... OUTPUT=..."

gke-ray-score: ## Batch-score on GKE with KubeRay: TRAINING_IMAGE=<image> MODEL=<run>/models/champion INPUT=gs://... OUTPUT=gs://...
	$(if $(and $(TRAINING_IMAGE),$(MODEL),$(INPUT),$(OUTPUT)),,$(error usage: make gke-ray-score \
		TRAINING_IMAGE=<image> MODEL=<run>/models/champion INPUT=<URL> OUTPUT=<URL>, as make gke-ray-train prints))
	kubectl apply -f deploy/gcp/k8s/namespace.yaml
	kubectl -n $(GKE_NAMESPACE) create configmap ray-score --dry-run=client -o yaml \
		--from-literal=model_url=$(MODEL) --from-literal=input_url=$(INPUT) \
		--from-literal=output_url=$(OUTPUT) | kubectl apply -f -
	$(call gke_ray_job,score,$(TRAINING_IMAGE))
