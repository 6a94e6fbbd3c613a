output "document" {
  description = "The OpenAPI document, as JSON (the REST API's body)."
  value       = jsonencode(local.openapi)
}
