# The dev environment: the whole system (modules/delivery) with dev's settings.
# State: S3 with a native lock file; the bucket comes from -backend-config (see ../../README.md).

terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }
  backend "s3" {
    key          = "delivery/dev.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      project     = "delivery"
      environment = "dev"
      managed-by  = "terraform"
    }
  }
}

module "delivery" {
  source = "../../modules/delivery"

  name                      = "delivery-dev"
  deployment_strategy       = "all-at-once"
  package_dir               = var.package_dir
  jwt_issuer                = var.jwt_issuer
  jwt_audience              = var.jwt_audience
  jwks                      = var.jwks
  jwks_url                  = var.jwks_url
  jwt_scope_prefix          = var.jwt_scope_prefix
  enable_cognito            = var.enable_cognito
  cognito                   = var.cognito
  cors_allowed_origins      = var.cors_allowed_origins
  alarm_email               = var.alarm_email
  carriers                  = var.carriers
  enable_vpc                = var.enable_vpc
  vpc                       = var.vpc
  manage_account_settings   = var.manage_account_settings
  sms_monthly_spend_limit   = var.sms_monthly_spend_limit
  deletion_protection       = false
  throttling_rate_limit     = 100
  throttling_burst_limit    = 200
  processor_max_concurrency = 10
  sale                      = var.sale
  reserved_concurrency      = {}
}
