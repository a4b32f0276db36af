#!/usr/bin/env bash
# Deploy one serving image to Cloud Run: copy it, unchanged (same digest), from the CI
# registry to Artifact Registry, then roll the service to that digest. `gcloud run deploy`
# waits until the new revision passes its startup probe (/ready) and only then moves the
# traffic; a revision that never gets ready fails the deploy and the old one keeps serving.
# CD calls it with the deployer service account (terraform/ci.tf).
#   deploy/gcp/deploy.sh SOURCE_IMAGE TAG
# Environment: GCP_PROJECT_ID, GCP_REGION, GCP_IMAGE_REPOSITORY, GCP_SERVICE (terraform
# outputs), SOURCE_REGISTRY_USER and SOURCE_REGISTRY_PASSWORD (read access to the CI
# registry); gcloud must be signed in.
set -euo pipefail

source_image=$1
tag=$2
: "${GCP_PROJECT_ID:?}" "${GCP_REGION:?}" "${GCP_IMAGE_REPOSITORY:?}" "${GCP_SERVICE:?}"
: "${SOURCE_REGISTRY_USER:?}" "${SOURCE_REGISTRY_PASSWORD:?}"

digest_of() {
  gcloud artifacts docker images describe "$GCP_IMAGE_REPOSITORY:$tag" \
    --format='value(image_summary.digest)' 2>/dev/null
}

# Tags are immutable: a re-run for the same commit finds the image already there.
if ! digest=$(digest_of); then
  skopeo copy --preserve-digests \
    --src-creds "$SOURCE_REGISTRY_USER:$SOURCE_REGISTRY_PASSWORD" \
    --dest-creds "oauth2accesstoken:$(gcloud auth print-access-token)" \
    "docker://$source_image" "docker://$GCP_IMAGE_REPOSITORY:$tag"
  digest=$(digest_of)
fi
image="$GCP_IMAGE_REPOSITORY@$digest"
echo "deploying $image"

gcloud run deploy "$GCP_SERVICE" --project "$GCP_PROJECT_ID" --region "$GCP_REGION" \
  --image "$image" --quiet
echo "serving $image at $(gcloud run services describe "$GCP_SERVICE" --project "$GCP_PROJECT_ID" \
  --region "$GCP_REGION" --format='value(status.url)')"
