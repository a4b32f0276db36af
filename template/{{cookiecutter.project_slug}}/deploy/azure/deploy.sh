#!/usr/bin/env bash
# Deploy one serving image to Azure Container Apps: copy it, unchanged (same digest), from
# the CI registry to Azure Container Registry, point the app at that digest and wait until
# the new revision is healthy (its startup and readiness probes pass on /ready). In single
# revision mode the old revision serves until then.
# CD calls it signed in as the deployer identity (terraform/ci.tf).
#   deploy/azure/deploy.sh SOURCE_IMAGE TAG
# Environment: AZURE_RESOURCE_GROUP, AZURE_REGISTRY, AZURE_IMAGE_REPOSITORY,
# AZURE_CONTAINER_APP (terraform outputs), SOURCE_REGISTRY_USER and SOURCE_REGISTRY_PASSWORD
# (read access to the CI registry); az must be signed in.
set -euo pipefail

source_image=$1
tag=$2
: "${AZURE_RESOURCE_GROUP:?}" "${AZURE_REGISTRY:?}" "${AZURE_IMAGE_REPOSITORY:?}" "${AZURE_CONTAINER_APP:?}"
: "${SOURCE_REGISTRY_USER:?}" "${SOURCE_REGISTRY_PASSWORD:?}"
repository=${AZURE_IMAGE_REPOSITORY#*/}

digest_of() {
  az acr manifest show-metadata --registry "$AZURE_REGISTRY" --name "$repository:$tag" \
    --query digest --output tsv 2>/dev/null
}

if ! digest=$(digest_of); then
  # A registry token of the signed-in identity (AcrPush), valid for three hours.
  token=$(az acr login --name "$AZURE_REGISTRY" --expose-token --query accessToken --output tsv)
  skopeo copy --preserve-digests \
    --src-creds "$SOURCE_REGISTRY_USER:$SOURCE_REGISTRY_PASSWORD" \
    --dest-creds "00000000-0000-0000-0000-000000000000:$token" \
    "docker://$source_image" "docker://$AZURE_IMAGE_REPOSITORY:$tag"
  digest=$(digest_of)
fi
image="$AZURE_IMAGE_REPOSITORY@$digest"
echo "deploying $image"

revision=$(az containerapp update --name "$AZURE_CONTAINER_APP" --resource-group "$AZURE_RESOURCE_GROUP" \
  --image "$image" --query properties.latestRevisionName --output tsv)
for _ in $(seq 1 60); do
  health=$(az containerapp revision show --name "$AZURE_CONTAINER_APP" \
    --resource-group "$AZURE_RESOURCE_GROUP" --revision "$revision" \
    --query properties.healthState --output tsv)
  case $health in
    Healthy) echo "serving $image ($revision)"; exit 0 ;;
    Unhealthy) echo "revision $revision is unhealthy: see its logs" >&2; exit 1 ;;
  esac
  sleep 10
done
echo "revision $revision did not become healthy within 10 minutes" >&2
exit 1
