output "deployment_config_name" {
  description = "The CodeDeploy deployment configuration of the strategy."
  value       = local.configs[var.strategy]
}

output "gradual" {
  description = "Whether a new version first takes only part of the traffic."
  value       = var.strategy == "canary"
}
