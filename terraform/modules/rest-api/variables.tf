variable "name" {
  description = "The REST API's name."
  type        = string
}

variable "stage_name" {
  description = "The stage the API is deployed to (the first path segment of its URL)."
  type        = string
  default     = "v1"
}

variable "routes" {
  description = "Every route of the API: method, resource path, and the function serving it (its alias: the invoke ARN and the qualifier of the permission)."
  type = list(object({
    method        = string
    path          = string
    function_name = string
    qualifier     = string
    invoke_arn    = string
  }))
}

variable "authorizer" {
  description = "The TOKEN authorizer function and how long API Gateway caches its policy per token."
  type = object({
    function_name     = string
    qualifier         = string
    invoke_arn        = string
    cache_ttl_seconds = number
  })
}

variable "cors_allowed_origins" {
  description = "Origins allowed by CORS (\"*\" for any); the same list the functions get as CORS_ALLOWED_ORIGINS."
  type        = list(string)
  validation {
    condition     = length(var.cors_allowed_origins) > 0
    error_message = "At least one origin (or \"*\")."
  }
}

variable "throttling_rate_limit" {
  description = "Stage-wide steady-state requests per second."
  type        = number
}

variable "throttling_burst_limit" {
  description = "Stage-wide burst of requests."
  type        = number
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the access log group."
  type        = string
}

variable "log_retention_days" {
  description = "How long access logs are kept."
  type        = number
  default     = 365
}

variable "manage_account_settings" {
  description = "Set API Gateway's account-wide CloudWatch role (needed for access logs; let one environment per account do it)."
  type        = bool
  default     = true
}

variable "web_acl_arn" {
  description = "The WAF web ACL in front of the stage (the edge module's)."
  type        = string
}
