output "api_url" {
  description = "The API's base URL."
  value       = module.api.url
}

output "table_names" {
  description = "DynamoDB table names: products, orders, carriers."
  value       = module.tables.names
}

output "orders_queue_url" {
  description = "The orders queue."
  value       = module.orders_queue.url
}

output "orders_dlq_url" {
  description = "The orders dead-letter queue."
  value       = module.orders_queue.dlq_url
}

output "notifications_dlq_url" {
  description = "The notifications dead-letter queue (failed carrier SMS)."
  value       = aws_sqs_queue.notifications_dlq.id
}

output "events_topic_arn" {
  description = "The order-events topic."
  value       = module.events.arn
}

output "alarm_topic_arn" {
  description = "The alarm topic."
  value       = module.alarms.topic_arn
}

output "function_names" {
  description = "Deployed function names by crate."
  value       = { for k, f in module.function : k => f.function_name }
}

output "site_url" {
  description = "The web page's URL."
  value       = module.site.url
}

output "site_bucket" {
  description = "The bucket the deploy uploads the web page to."
  value       = module.site.bucket
}

output "site_distribution_id" {
  description = "The web page's CloudFront distribution."
  value       = module.site.distribution_id
}

output "dashboard_url" {
  description = "The operator's CloudWatch dashboard."
  value       = module.dashboard.url
}

output "imports_bucket" {
  description = "The imports bucket (uploads only through POST /imports' presigned URLs)."
  value       = module.imports.bucket_name
}

output "imports_dlq_name" {
  description = "Import files whose processing failed after 5 deliveries (redrive to resume them)."
  value       = module.imports.dlq_name
}

output "deployments" {
  description = "What scripts/shift-traffic needs, by function: its name and alias, the version this apply published, and its CodeDeploy application and group."
  value = {
    for k, f in module.function : k => {
      function_name = f.function_name
      alias         = f.alias_name
      version       = f.version
      application   = module.deploy.application_name
      group         = module.deploy.deployment_groups[k]
    }
  }
}

output "sign_in" {
  description = "With enable_cognito, the page's hosted login (config.json's signIn, written by scripts/publish-page); null without."
  value       = var.enable_cognito ? module.identity[0].sign_in : null
}

output "user_pool_id" {
  description = "With enable_cognito, the user pool: invite users, set a company user's custom:company_id, add operators to the operators group."
  value       = var.enable_cognito ? module.identity[0].user_pool_id : null
}

output "integration_client_ids" {
  description = "With enable_cognito, each company integration's client id (token endpoint: sign_in.tokenUrl)."
  value       = var.enable_cognito ? module.identity[0].integration_client_ids : {}
}

output "integration_client_secrets" {
  description = "With enable_cognito, each company integration's client secret."
  value       = var.enable_cognito ? module.identity[0].integration_client_secrets : {}
  sensitive   = true
}

output "smoke_clients" {
  description = "With enable_cognito, the smoke test's clients and the token endpoint (scripts/smoke-credentials); null without."
  value       = var.enable_cognito ? module.identity[0].smoke : null
  sensitive   = true
}
