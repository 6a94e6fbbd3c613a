variable "identifier" {
  description = "The resource server's identifier: the prefix of every scope in a token."
  type        = string
  default     = "delivery"
}

variable "integrations" {
  description = "Company ids that get a client-credentials client of their own (scopes products:read and products:write, for that company only)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for c in var.integrations : can(regex("^[A-Za-z0-9_-]{1,64}$", c))])
    error_message = "Each integration is a company id: 1-64 of [A-Za-z0-9_-]."
  }
  validation {
    # A resource server holds at most 100 scopes: the API's five, the smoke test's company and one per integration.
    condition     = length(var.integrations) <= 90
    error_message = "At most 90 integrations (a resource server holds 100 scopes)."
  }
}

variable "smoke_company" {
  description = "The company the smoke test imports its one product for (its own client-credentials client)."
  type        = string
  default     = "smoke-test"
  validation {
    # Else the smoke test would write as a real company, with that company's client.
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.smoke_company)) && !contains(var.integrations, var.smoke_company)
    error_message = "smoke_company is a company id (1-64 of [A-Za-z0-9_-]) of no integration."
  }
}
