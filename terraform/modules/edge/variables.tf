variable "name" {
  description = "Name prefix of the web ACL and its log group."
  type        = string
}

variable "requests_per_ip_per_5_minutes" {
  description = "Requests one client IP may make in five minutes before it is blocked (so no one client spends the stage's throttle and the authorizer's bill)."
  type        = number
  default     = 1000
}

variable "max_body_bytes" {
  description = "Larger request bodies are blocked at the edge, before a Lambda is invoked (the API's own limit: 64 KiB)."
  type        = number
  default     = 65536
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the web ACL's log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the web ACL's logs."
  type        = number
}
