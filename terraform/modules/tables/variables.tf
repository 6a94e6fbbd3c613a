variable "name_prefix" {
  description = "Prefix of the table names: <prefix>-products, <prefix>-orders, <prefix>-carriers."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for encryption at rest."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse to delete the tables (on in prod)."
  type        = bool
  default     = true
}

variable "point_in_time_recovery" {
  description = "Continuous backups with point-in-time recovery."
  type        = bool
  default     = true
}
