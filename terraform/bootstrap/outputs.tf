output "github_repository_variables" {
  description = "Set these as the repository's variables (Settings, Secrets and variables, Actions, Variables)."
  value = {
    AWS_REGION      = var.region
    TF_STATE_BUCKET = aws_s3_bucket.state.id
  }
}

output "github_environment_variables" {
  description = "Set AWS_ROLE_ARN in each GitHub environment (Settings, Environments: dev, prod-plan, prod; give prod required reviewers)."
  value       = { for role, r in aws_iam_role.deploy : role => { AWS_ROLE_ARN = r.arn } }
}

output "managed_services" {
  description = "The IAM services the deploy roles may use, derived from the modules' resource types."
  value       = sort(tolist(local.services))
}
