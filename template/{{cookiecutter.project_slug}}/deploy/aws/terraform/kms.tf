# One customer-managed key for the project's data at rest: the artifact bucket, the image
# repository, the logs and the runtime secret.
resource "aws_kms_key" "main" {
  description             = "${var.project}: artifacts, images, logs and secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${var.project}"
  target_key_id = aws_kms_key.main.key_id
}

data "aws_iam_policy_document" "kms" {
  # In a key policy, resource "*" is this key and nothing else.
  #checkov:skip=CKV_AWS_109:a key policy's "*" resource is the key itself; the root statement is AWS's default delegation to IAM
  #checkov:skip=CKV_AWS_111:a key policy's "*" resource is the key itself; writes are limited to the account and CloudWatch Logs
  #checkov:skip=CKV_AWS_356:a key policy's "*" resource is the key itself
  # The account administers the key through IAM policies (the AWS default key policy).
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts the project's log groups, and only those.
  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/${var.project}/*",
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:aws-waf-logs-${var.project}",
      ]
    }
  }
}
