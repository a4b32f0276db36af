# AWS: infrastructure (deploy/aws/terraform), training on SageMaker, serving on EKS.
# Needs terraform, the AWS CLI (signed in, e.g. `aws sso login`) and, to build images, Docker.
TF := terraform -chdir=deploy/aws/terraform
# A Terraform output of the applied infrastructure, or a clear stop when there is none.
tf_output = $(or $(shell $(TF) output -raw $(1) 2>/dev/null),$(error no Terraform output "$(1)": run make infra-init infra-plan infra-apply first))
TF_STATE_KEY ?= {{ cookiecutter.project_slug | replace('_', '-') }}/terraform.tfstate
TRAINING_INSTANCE ?= ml.m5.large
# The raw data the job trains on: params.yaml's data.raw_path (`adopt` sets it), or the
# {{ cookiecutter.project_slug | upper }}_DATA__RAW_PATH variable that overrides it, as the CLI reads them.
RAW_PATH = $(or $({{ cookiecutter.project_slug | upper }}_DATA__RAW_PATH),$(shell sed -n 's/^  raw_path: *\([^ \#]*\).*/\1/p' params.yaml))

.PHONY: infra-init infra-plan infra-apply aws-dvc-remote aws-train eks-deploy{% if cookiecutter.__flow_image %} flow-image{% endif %}

infra-init: ## Initialise Terraform with its S3 state (TF_STATE_BUCKET=..., AWS_REGION=...)
	@test -n "$(TF_STATE_BUCKET)" && test -n "$(AWS_REGION)" || { \
		echo "set TF_STATE_BUCKET and AWS_REGION (deploy/aws/README.md, First deployment)"; exit 1; }
	$(TF) init -backend-config="bucket=$(TF_STATE_BUCKET)" \
		-backend-config="key=$(TF_STATE_KEY)" -backend-config="region=$(AWS_REGION)"

infra-plan: ## Plan the AWS infrastructure into deploy/aws/terraform/tfplan
	$(TF) plan -out=tfplan

infra-apply: ## Apply the reviewed plan (make infra-plan first)
	$(TF) apply tfplan

aws-dvc-remote: ## Make the artifact bucket your DVC remote (in .dvc/config.local, git-ignored)
	uv run dvc remote add --local --default --force s3 s3://$(call tf_output,artifact_bucket)/dvc

aws-train: ## Run the pipeline as a SageMaker training job (the image's training target)
	$(eval AWS_REGION := $(or $(AWS_REGION),$(call tf_output,region)))
	$(eval ECR_REPOSITORY := $(call tf_output,ecr_repository_url))
	$(eval BUCKET := $(call tf_output,artifact_bucket))
	$(eval JOB := {{ cookiecutter.project_slug | replace('_', '-') }}-$(shell date -u +%Y%m%d-%H%M%S))
	$(eval TRAINING_IMAGE := $(ECR_REPOSITORY):train-$(shell git rev-parse --short HEAD)-$(shell date -u +%s))
	docker build --target training -t $(TRAINING_IMAGE) .
	aws ecr get-login-password --region $(AWS_REGION) \
		| docker login --username AWS --password-stdin $(firstword $(subst /, ,$(ECR_REPOSITORY)))
	docker push $(TRAINING_IMAGE)
	aws s3 cp $(RAW_PATH) s3://$(BUCKET)/sagemaker/input/$(JOB)/raw/$(notdir $(RAW_PATH))
	aws sagemaker create-training-job --region $(AWS_REGION) \
		--training-job-name $(JOB) \
		--role-arn $(call tf_output,training_role_arn) \
		--algorithm-specification '{"TrainingImage": "$(TRAINING_IMAGE)", "TrainingInputMode": "File"}' \
		--input-data-config '[{"ChannelName": "raw", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://$(BUCKET)/sagemaker/input/$(JOB)/raw/", "S3DataDistributionType": "FullyReplicated"} } }]' \
		--output-data-config '{"S3OutputPath": "s3://$(BUCKET)/sagemaker/output/", "KmsKeyId": "$(call tf_output,kms_key_arn)"}' \
		--resource-config '{"InstanceType": "$(TRAINING_INSTANCE)", "InstanceCount": 1, "VolumeSizeInGB": 10, "VolumeKmsKeyId": "$(call tf_output,kms_key_arn)"}' \
		--stopping-condition '{"MaxRuntimeInSeconds": 3600}' \
		--environment '{"{{ cookiecutter.project_slug | upper }}_DATA__RAW_PATH": "/opt/ml/input/data/raw/$(notdir $(RAW_PATH))"}'
	aws sagemaker wait training-job-completed-or-stopped --region $(AWS_REGION) --training-job-name $(JOB)
	aws sagemaker describe-training-job --region $(AWS_REGION) --training-job-name $(JOB) \
		--query '{status: TrainingJobStatus, reason: FailureReason, model: ModelArtifacts.S3ModelArtifacts}'

eks-deploy: ## Serve on EKS (current kubectl context): IMAGE=<ECR repository>@sha256:...
	@test -n "$(IMAGE)" || { echo "set IMAGE to the image CD pushed, by digest"; exit 1; }
	kubectl apply -k deploy/aws/k8s
	kubectl -n {{ cookiecutter.project_slug | replace('_', '-') }} create configmap inference-log \
		--from-literal=url=$(call tf_output,inference_log_url) --dry-run=client -o yaml | kubectl apply -f -
	kubectl -n {{ cookiecutter.project_slug | replace('_', '-') }} create configmap model-signers \
		--from-literal=json='$(call tf_output,trusted_signers)' --dry-run=client -o yaml | kubectl apply -f -
	kubectl -n {{ cookiecutter.project_slug | replace('_', '-') }} set image deployment/api api=$(IMAGE)
	kubectl -n {{ cookiecutter.project_slug | replace('_', '-') }} rollout status deployment/api --timeout=5m
{%- if cookiecutter.__flow_image %}

# The image the orchestrator's deployed steps run (make flow-deploy TRAINING_IMAGE=...).
flow-image: ## Build the deployed steps' image (the training target), push it to ECR, print it by digest
	$(eval REPOSITORY := $(call tf_output,ecr_repository_url))
	$(eval FLOW_TAG := $(REPOSITORY):pipeline-$(shell git rev-parse --short HEAD)-$(shell date -u +%s))
	docker build --target training -t $(FLOW_TAG) .
	aws ecr get-login-password --region $(call tf_output,region) \
		| docker login --username AWS --password-stdin $(firstword $(subst /, ,$(REPOSITORY)))
	docker push --quiet $(FLOW_TAG)
	@docker inspect --format '{% raw %}{{index .RepoDigests 0}}{% endraw %}' $(FLOW_TAG)
{%- endif %}
