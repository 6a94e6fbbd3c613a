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
