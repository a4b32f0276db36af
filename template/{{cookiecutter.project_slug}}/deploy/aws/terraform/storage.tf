# The artifact bucket: the DVC remote (s3://BUCKET/dvc), {% if cookiecutter.__tracking_server %}the tracking server's artifact
# store (s3://BUCKET/mlflow), {% endif %}the training jobs' inputs and outputs (s3://BUCKET/sagemaker),
# the API's inference log (s3://BUCKET/inference), and batch scoring's batches and scores
# (s3://BUCKET/batches, s3://BUCKET/scores). Private, versioned, KMS-encrypted, TLS only.
locals {
  inference_log_prefix = "inference"
  inference_log_url    = "s3://${aws_s3_bucket.artifacts.bucket}/${local.inference_log_prefix}"
  # Batch scoring, by CI (batch_scoring.tf) or an orchestrator: the day's batches, their scores.
  batch_input_prefix  = "batches"
  batch_scores_prefix = "scores"
}

resource "aws_s3_bucket" "artifacts" {
  #checkov:skip=CKV_AWS_18:server access logs need a separate SSE-S3 log bucket; audit object access with CloudTrail data events in the account's organisation trail
  #checkov:skip=CKV_AWS_144:cross-region replication is a disaster-recovery choice per organisation; versioning already protects against deletes and overwrites
  #checkov:skip=CKV2_AWS_62:nothing consumes bucket events; its readers (DVC, the jobs, monitoring) read it on demand
  bucket_prefix = "${local.short}-artifacts-"
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  # Old versions of overwritten or deleted objects are kept 90 days, then expire.
  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_policy" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  policy = data.aws_iam_policy_document.artifacts_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.artifacts]
}

data "aws_iam_policy_document" "artifacts_bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.artifacts.arn,
      "${aws_s3_bucket.artifacts.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}
