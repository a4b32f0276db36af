# Batch scoring in the bucket. CI schedules it (.github/workflows/batch-scoring.yml, or GitLab's
# PIPELINE=score pipeline) and runs it as the deploy role (ci.tf): it reads the day's batch
# under s3://BUCKET/batches/ and writes the scores, and the rejects beside them, under
# s3://BUCKET/scores/. Both are written under temporary names and renamed when complete (in
# S3 a copy and a delete), hence read and delete on scores/ as well. The project key
# (ci.tf, UseProjectKey) encrypts and decrypts them.
data "aws_iam_policy_document" "batch_scoring" {
  statement {
    sid       = "ListBatchesAndScores"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.batch_input_prefix}/*", "${local.batch_scores_prefix}/*"]
    }
  }
  statement {
    sid       = "ReadBatches"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.batch_input_prefix}/*"]
  }
  statement {
    sid       = "WriteScores"
    actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.batch_scores_prefix}/*"]
  }
}

resource "aws_iam_role_policy" "ci_deploy_batch_scoring" {
  role   = aws_iam_role.ci_deploy.id
  policy = data.aws_iam_policy_document.batch_scoring.json
}

output "score_input_url" {
  description = "CI variable SCORE_INPUT: the day's batch to score ({date}: the day, UTC)."
  value       = "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_input_prefix}/{date}.parquet"
}

output "score_output_url" {
  description = "CI variable SCORE_OUTPUT: where the day's scores go ({date}: the day, UTC)."
  value       = "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_scores_prefix}/{date}.parquet"
}
