# Runtime secrets of the API (JSON, one key per environment variable): set the value once
# with `aws secretsmanager put-secret-value` and list the keys in runtime_secret_keys.
resource "aws_secretsmanager_secret" "runtime" {
  #checkov:skip=CKV2_AWS_57:the values are third-party credentials (tracker, webhook) that no Lambda can rotate; rotate them at their issuer
  name_prefix = "${var.project}/runtime-"
  description = "Runtime secrets of the ${var.project} API"
  kms_key_id  = aws_kms_key.main.arn
}
