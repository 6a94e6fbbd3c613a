variable "name" {
  description = "The API's title."
  type        = string
}

variable "routes" {
  description = "Every route: method, resource path, and the invoke ARN of the function serving it."
  type = list(object({
    method     = string
    path       = string
    invoke_arn = string
  }))
}

variable "authorizer_invoke_arn" {
  description = "Invoke ARN of the TOKEN authorizer function."
  type        = string
}

variable "authorizer_cache_ttl_seconds" {
  description = "How long API Gateway caches the authorizer's policy per token."
  type        = number
}

variable "cors_allowed_origins" {
  description = "Origins allowed by CORS (\"*\" for any)."
  type        = list(string)
}
