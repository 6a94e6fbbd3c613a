output "function_name" {
  description = "The function's name."
  value       = aws_lambda_function.this.function_name
}

output "arn" {
  description = "The function's ARN."
  value       = aws_lambda_function.this.arn
}

output "alias_name" {
  description = "The alias every trigger invokes."
  value       = aws_lambda_alias.live.name
}

output "alias_arn" {
  description = "The live alias's ARN: what event sources and subscriptions invoke."
  value       = aws_lambda_alias.live.arn
}

output "alias_invoke_arn" {
  description = "The live alias's invoke ARN: what API Gateway invokes."
  value       = aws_lambda_alias.live.invoke_arn
}

output "version" {
  description = "The version this apply published: CodeDeploy shifts the alias to it."
  value       = aws_lambda_function.this.version
}

output "role_arn" {
  description = "The function's own execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "The function's log group."
  value       = aws_cloudwatch_log_group.this.name
}
