variable "region" {
  description = "AWS region to deploy to."
  type        = string
}

variable "package_dir" {
  description = "Where scripts/package wrote the zips (relative to this folder by default)."
  type        = string
  default     = "../../../target/lambda"
}

variable "jwt_issuer" {
  description = "Required `iss` of bearer tokens; empty with enable_cognito."
  type        = string
  default     = ""
}

variable "jwt_audience" {
  description = "Accepted audiences of bearer tokens, comma-separated; empty with enable_cognito."
  type        = string
  default     = ""
}

variable "jwks" {
  description = "Trusted JWK set as JSON; empty when jwks_url is set, or with enable_cognito."
  type        = string
  default     = ""
}

variable "jwks_url" {
  description = "https URL of the trusted JWK set; empty when jwks is set, or with enable_cognito."
  type        = string
  default     = ""
}

variable "cors_allowed_origins" {
  description = "Origins allowed to call the API from a browser, besides the web page's own."
  type        = list(string)
  default     = []
}

variable "alarm_email" {
  description = "E-mail address for alarms; empty for none."
  type        = string
  default     = ""
}

variable "carriers" {
  description = "The carriers, as code (deploy.yml: the repository variable CARRIERS, in HCL): id, name, E.164 phone, active. Carriers added by hand are removed by the next apply."
  type = list(object({
    id     = string
    name   = string
    phone  = string
    active = bool
  }))
  default = []
}

variable "sms_monthly_spend_limit" {
  description = "The account's SMS spend limit in USD per month, region-wide: AWS stops sending at it (deploy.yml: the repository variable SMS_MONTHLY_SPEND_LIMIT)."
  type        = number
}

variable "manage_account_settings" {
  description = "Manage the region-wide account settings (API Gateway's logging role, SMS preferences and delivery logs). Exactly one environment per account and region must (deploy.yml: ACCOUNT_SETTINGS_ENVIRONMENTS); no default, so two environments in one account never both take them by accident."
  type        = bool
}

variable "enable_vpc" {
  description = "Run the functions that reach data in private subnets with VPC endpoints, no NAT (interface endpoints are billed hourly; docs/deploy.md, Private networking)."
  type        = bool
  default     = false
}

variable "vpc" {
  description = "With enable_vpc: your VPC, two or more private subnets and their route tables (null: one is created)."
  type = object({
    vpc_id          = string
    subnet_ids      = list(string)
    route_table_ids = list(string)
  })
  default = null
}

variable "jwt_scope_prefix" {
  description = "What your issuer puts before each scope (e.g. \"delivery/\"); empty for none, and unused with enable_cognito."
  type        = string
  default     = ""
}

variable "enable_cognito" {
  description = "A Cognito user pool is the issuer (docs/deploy.md, Sign-in with Cognito): leave jwt_issuer, jwt_audience, jwks and jwks_url empty."
  type        = bool
  default     = false
}

variable "cognito" {
  description = "With enable_cognito: integrations (company ids given a client-credentials client), self_sign_up (customers sign themselves up), domain_prefix (the hosted login's; empty: <name>-<account id>), ses_identity_arn and email_from (the pool's e-mail through SES; empty: Cognito's own, 50 a day)."
  type = object({
    integrations     = optional(list(string), [])
    self_sign_up     = optional(bool, false)
    domain_prefix    = optional(string, "")
    ses_identity_arn = optional(string, "")
    email_from       = optional(string, "")
  })
  default = {}
}

variable "sale" {
  description = "A known peak, prepared for ahead (docs/deploy.md, \"Preparing for a sale\"; deploy.yml: the environment variable SALE, in HCL): window and expected peak orders a second. null when none is planned."
  type = object({
    start                  = string
    end                    = string
    peak_orders_per_second = number
  })
  default = null
}
