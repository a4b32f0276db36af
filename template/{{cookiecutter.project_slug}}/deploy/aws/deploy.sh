#!/usr/bin/env bash
# Deploy one serving image to ECS: copy it, unchanged (same digest), from the CI registry to
# ECR, register a task definition revision that pins that digest, roll the service and wait
# until it is stable (the deployment circuit breaker rolls back a revision that never gets
# healthy). CD calls it with credentials of the ci_deploy role (terraform/ci.tf).
#   deploy/aws/deploy.sh SOURCE_IMAGE TAG
# Environment: ECR_REPOSITORY, ECS_CLUSTER, ECS_SERVICE, ECS_TASK_FAMILY (terraform outputs),
# and AWS_REGION; docker must be logged in to both registries.
set -euo pipefail

source_image=$1
tag=$2
: "${ECR_REPOSITORY:?}" "${ECS_CLUSTER:?}" "${ECS_SERVICE:?}" "${ECS_TASK_FAMILY:?}" "${AWS_REGION:?}"
repository_name=${ECR_REPOSITORY#*/}

digest_of() {
  aws ecr describe-images --repository-name "$repository_name" --image-ids "imageTag=$tag" \
    --query 'imageDetails[0].imageDigest' --output text 2>/dev/null
}

# Tags are immutable: a re-run for the same commit finds the image already there.
if ! digest=$(digest_of); then
  docker buildx imagetools create --tag "$ECR_REPOSITORY:$tag" "$source_image"
  digest=$(digest_of)
fi
image="$ECR_REPOSITORY@$digest"
echo "deploying $image"

aws ecs describe-task-definition --task-definition "$ECS_TASK_FAMILY" --query taskDefinition \
  | jq --arg image "$image" '.containerDefinitions[0].image = $image
      | del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
            .registeredAt, .registeredBy)' > task-definition.json
revision=$(aws ecs register-task-definition --cli-input-json file://task-definition.json \
  --query taskDefinition.taskDefinitionArn --output text)
aws ecs update-service --cluster "$ECS_CLUSTER" --service "$ECS_SERVICE" \
  --task-definition "$revision" --query "service.deployments[0].id" --output text
aws ecs wait services-stable --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE"
echo "serving $image ($revision)"
