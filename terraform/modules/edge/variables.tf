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

variable "waf_log_retention_days" {
  description = "Retention of the web ACL's logs (blocked and counted requests only, Authorization redacted)."
  type        = number
  default     = 30
}

variable "orders_per_token_per_5_minutes" {
  description = "POST /orders one bearer token may make in five minutes before WAF blocks it (10 or more, WAF's least)."
  type        = number
  default     = 100
  validation {
    condition     = var.orders_per_token_per_5_minutes >= 10 && floor(var.orders_per_token_per_5_minutes) == var.orders_per_token_per_5_minutes
    error_message = "orders_per_token_per_5_minutes must be a whole number, 10 or more (WAF's least rate limit)."
  }
}
