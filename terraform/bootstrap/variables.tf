variable "region" {
  description = "The region the environments deploy to (the state bucket lives there too)."
  type        = string
}

variable "github_repository" {
  description = "The repository that deploys, as OWNER/REPO: only its workflows' environments may assume the roles."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository is OWNER/REPO, like acme/delivery."
  }
}

variable "existing_oidc_provider_arn" {
  description = "The account's GitHub OIDC provider (token.actions.githubusercontent.com), when it has one already: an account holds one per URL. Empty: it is created."
  type        = string
  default     = ""
}

variable "state_bucket_name" {
  description = "The Terraform state bucket's name; empty: delivery-tfstate-<account id>-<region>."
  type        = string
  default     = ""
}

variable "environments" {
  description = "Each environment's GitHub environment name and the name its resources begin with (modules/delivery's name). The deploy roles may touch nothing else."
  type = map(object({
    prefix = string
  }))
  default = {
    dev  = { prefix = "delivery-dev" }
    prod = { prefix = "delivery-prod" }
  }
  validation {
    condition     = alltrue([for e in values(var.environments) : can(regex("^[a-z][a-z0-9-]{1,27}$", e.prefix))])
    error_message = "Each prefix is 2-28 of [a-z0-9-], starting with a letter (modules/delivery's rule for name)."
  }
  validation {
    condition     = contains(keys(var.environments), "prod")
    error_message = "The environments include prod (whose plan has a read-only role of its own)."
  }
}
