# The Ray jobs on EKS (README.md beside this file), in the current kubectl context's cluster
# with the KubeRay operator. Uses aws.mk's tf_output and RAW_PATH.
EKS_NAMESPACE ?= {{ cookiecutter.project_slug | replace('_', '-') }}

.PHONY: eks-ray-train eks-ray-score

# $(1): the job (train or score), $(2): its training image. Replaces a finished job of that
# name with a new one; the other job's RayJob is left out of what is applied.
define eks_ray_job
	kubectl -n $(EKS_NAMESPACE) delete rayjob $(1) --ignore-not-found --wait
	$(eval RUN := $(shell mktemp -d /tmp/ray-job.XXXXXX))
	@# kustomize takes relative paths only: from /tmp/ray-job.*, ../.. is the root.
	printf '%s\n' 'resources: [../..$(CURDIR)/deploy/aws/k8s/ray]' \
		'images: [{name: training, newName: "$(2)"}]' > $(RUN)/kustomization.yaml
	kubectl kustomize $(RUN) \
		| kubectl apply -l 'app.kubernetes.io/instance!=$(if $(filter train,$(1)),score,train)' -f -
	rm -r $(RUN)
	@echo "follow it: kubectl -n $(EKS_NAMESPACE) logs -f job/$(1) (deploy/aws/k8s/ray/README.md)"
endef

eks-ray-train: ## Train on EKS with KubeRay: the pipeline as a RayJob on a Ray cluster of its own
	$(eval AWS_REGION := $(or $(AWS_REGION),$(call tf_output,region)))
	$(eval ECR_REPOSITORY := $(call tf_output,ecr_repository_url))
	$(eval STORE := $(call tf_output,ray_store_url)/$(shell date -u +%Y%m%d-%H%M%S))
	$(eval TRAINING_IMAGE := $(ECR_REPOSITORY):train-$(shell git rev-parse --short HEAD)-$(shell date -u +%s))
	docker build --target training -t $(TRAINING_IMAGE) .
	aws ecr get-login-password --region $(AWS_REGION) \
		| docker login --username AWS --password-stdin $(firstword $(subst /, ,$(ECR_REPOSITORY)))
	docker push $(TRAINING_IMAGE)
	aws s3 cp $(RAW_PATH) $(STORE)/raw/$(notdir $(RAW_PATH))
	kubectl apply -f deploy/aws/k8s/namespace.yaml
	kubectl -n $(EKS_NAMESPACE) create configmap ray-train --dry-run=client -o yaml \
		--from-literal=raw_url=$(STORE)/raw/$(notdir $(RAW_PATH)) --from-literal=store_url=$(STORE) \
		--from-literal=ray_storage_url=$(STORE)/ray-results | kubectl apply -f -
	$(call eks_ray_job,train,$(TRAINING_IMAGE))
	@echo "models and reports: $(STORE)/; to score with this model:"
	@echo "make eks-ray-score TRAINING_IMAGE=$(TRAINING_IMAGE) MODEL=$(STORE)/models/champion INPUT=... OUTPUT=..."

eks-ray-score: ## Batch-score on EKS with KubeRay: TRAINING_IMAGE=<image> MODEL=<run>/models/champion INPUT=s3://... OUTPUT=s3://...
	$(if $(and $(TRAINING_IMAGE),$(MODEL),$(INPUT),$(OUTPUT)),,$(error usage: make eks-ray-score \
		TRAINING_IMAGE=<image> MODEL=<run>/models/champion INPUT=<URL> OUTPUT=<URL>, as make eks-ray-train prints))
	kubectl apply -f deploy/aws/k8s/namespace.yaml
	kubectl -n $(EKS_NAMESPACE) create configmap ray-score --dry-run=client -o yaml \
		--from-literal=model_url=$(MODEL) --from-literal=input_url=$(INPUT) \
		--from-literal=output_url=$(OUTPUT) | kubectl apply -f -
	$(call eks_ray_job,score,$(TRAINING_IMAGE))
