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

variable "warm_throughput" {
  description = "Per table (products, orders, idempotency): the read and write units a second it must take at once, ahead of a sale. DynamoDB cannot lower a table's warm throughput: a table left out keeps what it has."
  type = map(object({
    read  = number
    write = number
  }))
  default = {}
}
