output "subnet_ids" {
  description = "The private subnets the functions run in."
  value       = local.subnet_ids
}

output "security_group_ids" {
  description = "The functions' security group (no ingress, HTTPS to the endpoints)."
  value       = [aws_security_group.functions.id]
}

output "vpc_cidr" {
  description = "The VPC's address range."
  value       = local.vpc_cidr
}
