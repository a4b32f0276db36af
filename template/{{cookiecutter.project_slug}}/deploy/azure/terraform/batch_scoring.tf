# Batch scoring in the storage account. CI schedules it (.github/workflows/batch-scoring.yml,
# or GitLab's PIPELINE=score pipeline) and runs it as the deployer (ci.tf): it reads the day's
# batch under batches/ and writes the scores, and the rejects beside them, under scores/. Both
# are written under temporary names and renamed when complete (a copy and a delete), hence
# read, write and delete, each held to its prefix by an attribute-based condition (the
# prefixes: main.tf).

resource "azurerm_role_assignment" "deployer_reads_batches" {
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.deployer.principal_id
  condition_version    = "2.0"
  condition            = <<-EOT
    (
      (
        !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND NOT SubOperationMatches{'Blob.List'})
      )
      OR
      (
        @Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringLike '${local.batch_input_prefix}/*'
      )
    )
    AND
    (
      (
        !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND SubOperationMatches{'Blob.List'})
      )
      OR
      (
        @Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix] StringStartsWith '${local.batch_input_prefix}/'
      )
    )
  EOT
}

resource "azurerm_role_assignment" "deployer_writes_scores" {
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.deployer.principal_id
  condition_version    = "2.0"
  condition            = <<-EOT
    (
      (
        !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND NOT SubOperationMatches{'Blob.List'})
        AND !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'})
        AND !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'})
        AND !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'})
        AND !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action'})
      )
      OR
      (
        @Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringLike '${local.batch_scores_prefix}/*'
      )
    )
    AND
    (
      (
        !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND SubOperationMatches{'Blob.List'})
      )
      OR
      (
        @Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix] StringStartsWith '${local.batch_scores_prefix}/'
      )
    )
  EOT
}

output "score_input_url" {
  description = "SCORE_INPUT: the day's batch to score ({date}: the day, UTC)."
  value       = "${local.batch_scoring_root}/${local.batch_input_prefix}/{date}.parquet"
}

output "score_output_url" {
  description = "SCORE_OUTPUT: where the day's scores go ({date}: the day, UTC)."
  value       = "${local.batch_scoring_root}/${local.batch_scores_prefix}/{date}.parquet"
}
