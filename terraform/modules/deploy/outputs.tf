output "application_name" {
  description = "The CodeDeploy application of the functions."
  value       = aws_codedeploy_app.functions.name
}

output "deployment_groups" {
  description = "The deployment group of each function, by its key."
  value       = { for k, g in aws_codedeploy_deployment_group.function : k => g.deployment_group_name }
}

output "deployment_config_name" {
  description = "How each deployment shifts the traffic."
  value       = module.strategy.deployment_config_name
}
