variable "name" {
  description = "Name of this deployment (e.g. delivery-dev): prefixes every resource."
  type        = string
  validation {
    # The longest name built from it is the imports bucket's prefix, "<name>-imports-": S3 allows
    # a bucket_prefix of 37 characters. The wiring check holds every other name to its limit.
    condition     = can(regex("^[a-z][a-z0-9-]{1,27}$", var.name))
    error_message = "2-28 of [a-z0-9-], starting with a letter (the imports bucket's prefix, <name>-imports-, may have 37)."
  }
}

variable "package_dir" {
  description = "Where scripts/package wrote the zips: <package_dir>/<function>/bootstrap.zip."
  type        = string
}

variable "jwt_issuer" {
  description = "The required `iss` of bearer tokens (JWT_ISSUER); empty with enable_cognito (the pool is the issuer)."
  type        = string
  default     = ""
  validation {
    condition     = var.enable_cognito == (var.jwt_issuer == "")
    error_message = "Set jwt_issuer (and jwt_audience, jwks or jwks_url) for an issuer of your own, or enable_cognito and leave them empty: the pool is then the issuer."
  }
}

variable "jwt_audience" {
  description = "The accepted audiences of bearer tokens, comma-separated (JWT_AUDIENCE): a token's `aud`, or its `client_id` when it has none (Cognito's access tokens). Empty with enable_cognito."
  type        = string
  default     = ""
  validation {
    condition     = var.enable_cognito == (var.jwt_audience == "")
    error_message = "Set jwt_audience for an issuer of your own; leave it empty with enable_cognito (the pool's clients are the audiences)."
  }
}

variable "jwks" {
  description = "The trusted keys as a JWK set in JSON (JWKS); empty when jwks_url is set, or with enable_cognito."
  type        = string
  default     = ""
}

variable "jwks_url" {
  description = "An https URL of the trusted JWK set (JWKS_URL); empty when jwks is set, or with enable_cognito (the pool's own is used)."
  type        = string
  default     = ""
  validation {
    condition     = var.enable_cognito ? var.jwks == "" && var.jwks_url == "" : (var.jwks == "") != (var.jwks_url == "")
    error_message = "Set exactly one of jwks and jwks_url; with enable_cognito, neither (the pool's keys are used)."
  }
  validation {
    condition     = var.jwks_url == "" || startswith(var.jwks_url, "https://")
    error_message = "jwks_url must be an https URL."
  }
}

variable "cors_allowed_origins" {
  description = "Origins the browser may call the API from besides the web page's own (CORS_ALLOWED_ORIGINS); [\"*\"] for any."
  type        = list(string)
  default     = []
}

variable "authorizer_cache_ttl_seconds" {
  description = "How long API Gateway caches the authorizer's policy per token (0 disables): at most the verifier's 30 s of clock leeway, so that a cached answer never outlives its token's exp by more."
  type        = number
  default     = 30
  validation {
    condition     = var.authorizer_cache_ttl_seconds >= 0 && var.authorizer_cache_ttl_seconds <= 30
    error_message = "authorizer_cache_ttl_seconds must be 0 to 30 (the authorizer's leeway on exp): a longer cache would accept a token after it expired."
  }
}

variable "throttling_rate_limit" {
  description = "API stage steady-state requests per second."
  type        = number
  default     = 500
}

variable "throttling_burst_limit" {
  description = "API stage burst."
  type        = number
  default     = 1000
}

variable "processor_max_concurrency" {
  description = "Most concurrent order-processor invocations the queue drives (2-1000): bounds the write rate on the tables during a spike."
  type        = number
  default     = 20
}

variable "reserved_concurrency" {
  description = "Reserved concurrency by function; unlisted functions are unreserved. Reservations must leave the account 100 unreserved."
  type        = map(number)
  default     = {}
}

variable "deletion_protection" {
  description = "Protect the tables from deletion (on in prod)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of function and access logs."
  type        = number
  default     = 365
}

variable "rust_log" {
  description = "The functions' log filter (RUST_LOG)."
  type        = string
  default     = "info"
}

variable "alarm_email" {
  description = "E-mail address for alarms; empty for none."
  type        = string
  default     = ""
}

variable "api_p99_latency_ms" {
  description = "API p99 latency alarm threshold in milliseconds."
  type        = number
  default     = 2000
}

variable "manage_account_settings" {
  description = "Manage the region-wide account settings (API Gateway's CloudWatch role, SMS preferences and their delivery logs). Exactly one environment per account and region must: the workflows give it to ACCOUNT_SETTINGS_ENVIRONMENT's."
  type        = bool
}

variable "sms_monthly_spend_limit" {
  description = "The account's SMS spend limit in USD per month, region-wide (applied with manage_account_settings). At the limit AWS stops sending every SMS of the account: set it to a month of carriers' texts with room to spare; 80 % of it raises an alarm."
  type        = number
  validation {
    # The provider takes whole dollars; AWS refuses more than the account's SMS spend quota
    # ($1 on a new account until a support case raises it: scripts/preflight checks it).
    condition     = var.sms_monthly_spend_limit >= 1 && floor(var.sms_monthly_spend_limit) == var.sms_monthly_spend_limit
    error_message = "sms_monthly_spend_limit must be a whole number of USD, 1 or more, and no more than the account's SMS spend quota (scripts/preflight)."
  }
}

variable "sms_countries" {
  description = "Countries (ISO 3166-1 alpha-2) of the carriers' phones, for the SMS success-rate alarms."
  type        = list(string)
  default     = ["US"]
}

variable "carriers" {
  description = "Carriers to create in the carriers table: id, name, E.164 phone, active."
  type = list(object({
    id     = string
    name   = string
    phone  = string
    active = bool
  }))
  default = []
  validation {
    # The domain's rule (domain::ids::PHONE_PATTERN; the wiring check keeps them equal).
    condition     = alltrue([for c in var.carriers : can(regex("^\\+[1-9][0-9]{7,14}$", c.phone))])
    error_message = "Every carrier phone must be E.164: +, then 8 to 15 digits, the first not 0 (like +15551234567)."
  }
}

variable "requests_per_ip_per_5_minutes" {
  description = "The web ACL's per-IP rate limit: requests one client IP may make in five minutes."
  type        = number
  default     = 1000
}

variable "orders_per_token_per_5_minutes" {
  description = "The web ACL's limit of POST /orders per bearer token in five minutes (a script of sign-ups cannot spend the SMS budget)."
  type        = number
  default     = 100
}

variable "orders_per_principal_per_hour" {
  description = "Orders one principal (a token's sub) may place in an hour; place-order answers 429 past it (ORDERS_PER_PRINCIPAL_PER_HOUR)."
  type        = number
  default     = 60
  validation {
    condition     = var.orders_per_principal_per_hour >= 1 && floor(var.orders_per_principal_per_hour) == var.orders_per_principal_per_hour
    error_message = "orders_per_principal_per_hour must be a whole number, 1 or more."
  }
}

variable "waf_log_retention_days" {
  description = "Retention of the web ACL's logs (blocked and counted requests only, Authorization redacted)."
  type        = number
  default     = 30
}

variable "deployment_strategy" {
  description = "How CodeDeploy shifts each function's live alias to a new version: canary (10 % for 5 minutes, then all; prod) or all-at-once (dev). Either rolls back on the function's alarms."
  type        = string
  default     = "canary"
}

variable "enable_vpc" {
  description = "Run the functions that reach data in private subnets that reach AWS only through VPC endpoints (modules/network; interface endpoints are billed hourly). The authorizer and pre-token reach no data and stay outside, so a JWKS_URL keeps its route."
  type        = bool
  default     = false
}

variable "vpc" {
  description = "With enable_vpc: a VPC of your own, two or more of its private subnets and their route tables (null: a VPC is created)."
  type = object({
    vpc_id          = string
    subnet_ids      = list(string)
    route_table_ids = list(string)
  })
  default = null
}

variable "jwt_scope_prefix" {
  description = "What the issuer puts before each scope (JWT_SCOPE_PREFIX), e.g. \"delivery/\" for a Cognito resource server named delivery; empty for none. With enable_cognito, the pool's is used."
  type        = string
  default     = ""
}

variable "enable_cognito" {
  description = "Make a Cognito user pool the issuer of bearer tokens (modules/identity): the hosted login for the page, client credentials for integrations and the smoke test. Leave jwt_issuer, jwt_audience, jwks and jwks_url empty."
  type        = bool
  default     = false
}

variable "cognito" {
  description = "With enable_cognito: the companies whose integrations get a client-credentials client, whether customers may sign themselves up, the hosted login's domain prefix (empty: <name>-<account id>), and an SES identity (and sender) for the pool's e-mail (empty: Cognito's own, 50 a day)."
  type = object({
    integrations     = optional(list(string), [])
    self_sign_up     = optional(bool, false)
    domain_prefix    = optional(string, "")
    ses_identity_arn = optional(string, "")
    email_from       = optional(string, "")
  })
  default  = {}
  nullable = false
}

variable "sale" {
  description = "A known peak, prepared for ahead (docs/deploy.md, \"Preparing for a sale\"): its window (RFC 3339, UTC) and expected peak of orders a second. null when none is planned."
  type = object({
    start                  = string
    end                    = string
    peak_orders_per_second = number
  })
  default = null
}
