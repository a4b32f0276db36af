# The Ray jobs on GKE (deploy/gcp/k8s/ray): the Kubernetes service account `ray` of the
# namespace gke_namespace is itself the IAM principal (Workload Identity Federation for GKE,
# no Google service account to impersonate), with the same access to the bucket as the
# Vertex AI training jobs: read and write its objects. The cluster must exist with Workload
# Identity before this applies.
resource "google_storage_bucket_iam_member" "gke_ray" {
  count  = var.gke_namespace == null ? 0 : 1
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectUser"
  member = "principal://iam.googleapis.com/projects/${data.google_project.this.number}/locations/global/workloadIdentityPools/${var.project_id}.svc.id.goog/subject/ns/${var.gke_namespace}/sa/ray"
}

output "ray_store_url" {
  description = "Where the Ray jobs on GKE read and write (make gke-ray-train, gke-ray-score)."
  value       = "gs://${google_storage_bucket.artifacts.name}/ray"
}
