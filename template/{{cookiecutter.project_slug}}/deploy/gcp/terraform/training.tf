# Training at scale: Vertex AI custom jobs run the pipeline in the project's image
# (`make gcp-train`, see ../README.md). Vertex AI mounts the bucket at /gcs/<bucket> with
# Cloud Storage FUSE, so the job reads the raw data and keeps models and reports there.

resource "google_service_account" "trainer" {
  account_id   = "${var.name}-trainer"
  display_name = "${var.name} training jobs on Vertex AI"
  description  = "Runtime identity of the training jobs: read and write the artifact bucket."
}

resource "google_storage_bucket_iam_member" "trainer" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.trainer.email}"
}
