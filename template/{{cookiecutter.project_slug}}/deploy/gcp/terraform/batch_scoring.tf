# Batch scoring in the bucket. CI schedules it (.github/workflows/batch-scoring.yml, or GitLab's
# PIPELINE=score pipeline) and runs it as the deployer (ci.tf): it reads the day's batch in the
# managed folder batches/ and writes the scores, and the rejects beside them, in scores/. Both
# are written under temporary names and renamed when complete (in Cloud Storage a copy and a
# delete): the folder's objectUser role (read, create, delete its objects) on scores/ alone.
# ci.tf lets the deployer see the bucket (bucketViewer).
resource "google_storage_managed_folder_iam_member" "deployer_reads_batches" {
  bucket         = google_storage_managed_folder.batches.bucket
  managed_folder = google_storage_managed_folder.batches.name
  role           = "roles/storage.objectViewer"
  member         = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_storage_managed_folder_iam_member" "deployer_writes_scores" {
  bucket         = google_storage_managed_folder.scores.bucket
  managed_folder = google_storage_managed_folder.scores.name
  role           = "roles/storage.objectUser"
  member         = "serviceAccount:${google_service_account.deployer.email}"
}

output "score_input_url" {
  description = "SCORE_INPUT: the day's batch to score ({date}: the day, UTC)."
  value       = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.batches.name}{date}.parquet"
}

output "score_output_url" {
  description = "SCORE_OUTPUT: where the day's scores go ({date}: the day, UTC)."
  value       = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.scores.name}{date}.parquet"
}
