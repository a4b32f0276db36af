# The Ray jobs on EKS (deploy/aws/k8s/ray): the Kubernetes service account `ray` gets this
# role through EKS Pod Identity when eks_cluster_name is set. It reads and writes the
# bucket's ray/ prefix only (the raw data a job trains on, its models and reports, batch
# scoring's input and output), with the project's key through S3.
resource "aws_iam_role" "ray" {
  name_prefix        = "${local.short}-ray-"
  assume_role_policy = data.aws_iam_policy_document.eks_pods_assume.json
}

data "aws_iam_policy_document" "ray" {
  statement {
    sid       = "ListRayPrefix"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["ray/*"]
    }
  }
  statement {
    sid       = "ReadWriteRayPrefix"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/ray/*"]
  }
  statement {
    sid       = "UseProjectKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "ray" {
  role   = aws_iam_role.ray.id
  policy = data.aws_iam_policy_document.ray.json
}

resource "aws_eks_pod_identity_association" "ray" {
  count           = var.eks_cluster_name == "" ? 0 : 1
  cluster_name    = var.eks_cluster_name
  namespace       = var.project
  service_account = "ray"
  role_arn        = aws_iam_role.ray.arn
}

output "ray_store_url" {
  description = "Where the Ray jobs on EKS read and write (make eks-ray-train, eks-ray-score)."
  value       = "s3://${aws_s3_bucket.artifacts.bucket}/ray"
}
