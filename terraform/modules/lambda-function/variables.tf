variable "name" {
  description = "Function name; also names its role and log group."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "A Lambda function name is 1-64 of [A-Za-z0-9_-]."
  }
}

variable "zip_path" {
  description = "Path to the function's bootstrap.zip, as scripts/package writes it (target/lambda/<crate>/bootstrap.zip)."
  type        = string
}

variable "memory_mb" {
  description = "Memory in MB (CPU scales with it)."
  type        = number
  default     = 256
}

variable "timeout_seconds" {
  description = "Invocation timeout in seconds."
  type        = number
  default     = 10
}

variable "environment" {
  description = "Environment variables (docs/configuration.md)."
  type        = map(string)
  default     = {}
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; -1 leaves the function unreserved."
  type        = number
  default     = -1
}

variable "policy_statements" {
  description = "Exactly the IAM statements the function's adapters need, besides logs, X-Ray and the KMS key."
  type = list(object({
    sid       = string
    effect    = optional(string, "Allow")
    actions   = list(string)
    resources = list(string)
    condition = optional(object({ test = string, variable = string, values = list(string) }))
  }))
  default = []
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the environment variables and the log group."
  type        = string
}

variable "log_retention_days" {
  description = "How long the function's logs are kept."
  type        = number
  default     = 365
}

variable "vpc" {
  description = "The private subnets and security groups to run in (null: no VPC)."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}
