output "names" {
  description = "Table names by role: products, orders, carriers."
  value       = { for k, t in aws_dynamodb_table.this : k => t.name }
}

output "arns" {
  description = "Table ARNs by role: products, orders, carriers."
  value       = { for k, t in aws_dynamodb_table.this : k => t.arn }
}
