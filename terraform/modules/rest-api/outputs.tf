output "url" {
  description = "The API's base URL (the stage's invoke URL)."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "id" {
  description = "The REST API's id."
  value       = aws_api_gateway_rest_api.this.id
}

output "name" {
  description = "The REST API's name (CloudWatch's ApiName dimension)."
  value       = aws_api_gateway_rest_api.this.name
}

output "stage_name" {
  description = "The stage's name (CloudWatch's Stage dimension)."
  value       = aws_api_gateway_stage.this.stage_name
}

output "execution_arn" {
  description = "The API's execution ARN."
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "stage_arn" {
  description = "The stage's ARN (what the edge's web ACL protects)."
  value       = aws_api_gateway_stage.this.arn
}
