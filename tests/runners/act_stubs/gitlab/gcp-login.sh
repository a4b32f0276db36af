#!/usr/bin/env bash
# Stand-in for Google's token exchange in a GitLab job (Workload Identity Federation needs
# a Google Cloud project): run where the job's first cloud command would be, it fails
# unless the job prepared what the exchange consumes: a credential configuration of type
# external_account for a workload identity provider, reading a non-empty GitLab ID token
# from a file, impersonating a service account, and no service account key anywhere.
set -euo pipefail
provider_re='^projects/[0-9]+/locations/global/workloadIdentityPools/[^/]+/providers/[^/]+$'
fail() { echo "stub gcp-login: $*"; exit 1; }
[[ "${GCP_WORKLOAD_IDENTITY_PROVIDER:-}" =~ $provider_re ]] \
  || fail "GCP_WORKLOAD_IDENTITY_PROVIDER '${GCP_WORKLOAD_IDENTITY_PROVIDER:-}' is not a provider"
[[ "${GCP_SERVICE_ACCOUNT:-}" =~ ^[^@]+@[^@]+\.iam\.gserviceaccount\.com$ ]] \
  || fail "GCP_SERVICE_ACCOUNT '${GCP_SERVICE_ACCOUNT:-}' is not a service account"
config=${CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE:-}
[ -s "$config" ] || fail "no credential configuration (CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE)"
[ "$(jq -r .type "$config")" = external_account ] || fail "$config is not an external_account"
[ "$(jq -r .audience "$config")" = "//iam.googleapis.com/$GCP_WORKLOAD_IDENTITY_PROVIDER" ] \
  || fail "audience $(jq -r .audience "$config")"
token=$(jq -r .credential_source.file "$config")
[ -s "$token" ] || fail "the ID token file '$token' is empty: the job has no GitLab ID token"
jq -r .service_account_impersonation_url "$config" | grep -q "/serviceAccounts/$GCP_SERVICE_ACCOUNT:" \
  || fail "the configuration impersonates no service account"
for variable in GOOGLE_APPLICATION_CREDENTIALS GOOGLE_CREDENTIALS; do
  value=${!variable:-}
  [ -z "$value" ] || [ "$value" = "$config" ] || fail "$variable points at something else (a key?)"
done
echo "stub gcp-login: OIDC via $GCP_WORKLOAD_IDENTITY_PROVIDER as $GCP_SERVICE_ACCOUNT"
