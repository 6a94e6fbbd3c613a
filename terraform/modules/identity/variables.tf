variable "name" {
  description = "Name of the deployment (e.g. delivery-prod): the pool's and its clients' names."
  type        = string
}

variable "domain_prefix" {
  description = "The hosted login's domain prefix (<prefix>.auth.<region>.amazoncognito.com), unique in the region across all accounts."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.domain_prefix)) && !can(regex("aws|amazon|cognito", var.domain_prefix))
    error_message = "1-63 of [a-z0-9-], not starting or ending with a hyphen, without aws, amazon or cognito."
  }
}

variable "page_url" {
  description = "The web page's URL, where the hosted login sends the user back (callback and sign-out URL)."
  type        = string
  validation {
    condition     = startswith(var.page_url, "https://")
    error_message = "page_url must be an https URL."
  }
}

variable "pre_token_arn" {
  description = "The pre-token function's live alias: Cognito's pre token generation trigger (event version 3)."
  type        = string
}

variable "integrations" {
  description = "Company ids that get a client-credentials client of their own (scopes products:read and products:write, for that company only); checked by ./grants."
  type        = list(string)
  default     = []
}

variable "smoke_company" {
  description = "The company the smoke test imports its one product for (its own client-credentials client; no integration's); checked by ./grants."
  type        = string
  default     = "smoke-test"
}

variable "self_sign_up" {
  description = "Let anyone sign up as a customer through the hosted login (else an administrator invites every user)."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Refuse to delete the user pool (prod)."
  type        = bool
}

variable "ses_identity_arn" {
  description = "An SES identity (verified domain or address) the pool sends its e-mail through; empty: Cognito's own e-mail, at most 50 messages a day."
  type        = string
  default     = ""
  validation {
    condition     = var.ses_identity_arn == "" || can(regex("^arn:[^:]+:ses:[^:]+:[0-9]{12}:identity/.+$", var.ses_identity_arn))
    error_message = "ses_identity_arn must be an SES identity's ARN (arn:<partition>:ses:<region>:<account>:identity/<domain or address>)."
  }
}

variable "email_from" {
  description = "With ses_identity_arn, the sender, e.g. \"Delivery <no-reply@example.com>\" (empty: the identity's address)."
  type        = string
  default     = ""
}
