output "api_url" {
  description = "The API's base URL."
  value       = module.delivery.api_url
}

output "table_names" {
  description = "DynamoDB table names."
  value       = module.delivery.table_names
}

output "orders_queue_url" {
  description = "The orders queue."
  value       = module.delivery.orders_queue_url
}

output "orders_dlq_url" {
  description = "The orders dead-letter queue."
  value       = module.delivery.orders_dlq_url
}

output "notifications_dlq_url" {
  description = "The notifications dead-letter queue."
  value       = module.delivery.notifications_dlq_url
}

output "events_topic_arn" {
  description = "The order-events topic."
  value       = module.delivery.events_topic_arn
}

output "alarm_topic_arn" {
  description = "The alarm topic."
  value       = module.delivery.alarm_topic_arn
}

output "site_url" {
  description = "The web page's URL."
  value       = module.delivery.site_url
}

output "site_bucket" {
  description = "The bucket the deploy uploads the web page to."
  value       = module.delivery.site_bucket
}

output "site_distribution_id" {
  description = "The web page's CloudFront distribution."
  value       = module.delivery.site_distribution_id
}

output "dashboard_url" {
  description = "The operator's CloudWatch dashboard."
  value       = module.delivery.dashboard_url
}

output "imports_bucket" {
  description = "The imports bucket (uploads only through POST /imports' presigned URLs)."
  value       = module.delivery.imports_bucket
}

output "imports_dlq_name" {
  description = "Import files whose processing failed after 5 deliveries (redrive to resume them)."
  value       = module.delivery.imports_dlq_name
}

output "deployments" {
  description = "By function: name, alias, the version this apply published, CodeDeploy application and group (scripts/shift-traffic)."
  value       = module.delivery.deployments
}

output "sign_in" {
  description = "With enable_cognito, the page's hosted login (scripts/publish-page writes it into config.json); null without."
  value       = module.delivery.sign_in
}

output "user_pool_id" {
  description = "With enable_cognito, the user pool (docs/deploy.md, Sign-in with Cognito)."
  value       = module.delivery.user_pool_id
}

output "integration_client_ids" {
  description = "With enable_cognito, each company integration's client id."
  value       = module.delivery.integration_client_ids
}

output "integration_client_secrets" {
  description = "With enable_cognito, each company integration's client secret (terraform output -json integration_client_secrets)."
  value       = module.delivery.integration_client_secrets
  sensitive   = true
}

output "smoke_clients" {
  description = "With enable_cognito, the smoke test's clients (scripts/smoke-credentials); null without."
  value       = module.delivery.smoke_clients
  sensitive   = true
}
