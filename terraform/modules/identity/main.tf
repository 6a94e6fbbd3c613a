# The identity provider (enable_cognito): a Cognito user pool whose resource
# server has the API's scopes, the web page's client (authorization code + PKCE, no
# secret), a client-credentials client per company integration and two for the smoke test
# (which client may ask for which scope: ./grants, tested offline).
# company_id reaches the access token through the pre-token function (crates/pre-token), which
# also keeps a user's scopes to those meant for it.

data "aws_region" "current" {}

# Which scopes exist and which client may ask for which: pure, tested offline.
module "grants" {
  source = "./grants"

  integrations  = var.integrations
  smoke_company = var.smoke_company
}

locals {
  region       = data.aws_region.current.region
  scope_prefix = module.grants.scope_prefix
  base_url     = "https://${aws_cognito_user_pool_domain.this.domain}.auth.${local.region}.amazoncognito.com"
  issuer       = "https://${aws_cognito_user_pool.this.endpoint}"
}

resource "aws_cognito_user_pool" "this" {
  name = var.name
  # Essentials: the pre token generation trigger's versions 2 and 3 (access tokens, client
  # credentials) need it. Threat protection would need Plus; MFA is offered instead.
  user_pool_tier      = "ESSENTIALS"
  deletion_protection = var.deletion_protection ? "ACTIVE" : "INACTIVE"

  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  mfa_configuration        = "OPTIONAL"

  software_token_mfa_configuration {
    enabled = true
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = false
    temporary_password_validity_days = 3
  }

  # Customers may sign themselves up only when the deployment says so; companies' users and
  # operators are always invited by an administrator.
  admin_create_user_config {
    allow_admin_create_user_only = !var.self_sign_up
  }

  # Invitations and codes: Cognito's own e-mail (50 a day), or an SES identity of yours.
  dynamic "email_configuration" {
    for_each = var.ses_identity_arn == "" ? [] : [var.ses_identity_arn]
    content {
      email_sending_account = "DEVELOPER"
      source_arn            = email_configuration.value
      from_email_address    = var.email_from == "" ? null : var.email_from
    }
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  # The company a user acts for. Only an administrator sets it: no app client may write it.
  schema {
    name                     = "company_id"
    attribute_data_type      = "String"
    mutable                  = true
    developer_only_attribute = false
    required                 = false

    string_attribute_constraints {
      min_length = 1
      max_length = 64
    }
  }

  lambda_config {
    pre_token_generation_config {
      lambda_arn     = var.pre_token_arn
      lambda_version = "V3_0"
    }
  }
}

resource "aws_cognito_user_pool_domain" "this" {
  domain       = var.domain_prefix
  user_pool_id = aws_cognito_user_pool.this.id
}

# Operators keep simulations:run (pre-token); everyone else loses it.
resource "aws_cognito_user_group" "operators" {
  name         = "operators"
  user_pool_id = aws_cognito_user_pool.this.id
  description  = "May run order simulations (simulations:run)."
}

resource "aws_cognito_resource_server" "api" {
  identifier   = module.grants.identifier
  name         = "${var.name} API"
  user_pool_id = aws_cognito_user_pool.this.id

  dynamic "scope" {
    for_each = module.grants.resource_server_scopes
    content {
      scope_name        = scope.key
      scope_description = scope.value
    }
  }
}

# The web page: a public client (no secret) that signs in through the hosted login with
# authorization code + PKCE, and comes back to the page itself.
resource "aws_cognito_user_pool_client" "page" {
  name         = "${var.name}-page"
  user_pool_id = aws_cognito_user_pool.this.id

  generate_secret                      = false
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = module.grants.page_scopes
  callback_urls                        = [var.page_url]
  logout_urls                          = [var.page_url]
  supported_identity_providers         = ["COGNITO"]
  explicit_auth_flows                  = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true

  read_attributes  = ["email", "email_verified", "custom:company_id"]
  write_attributes = ["email"]

  access_token_validity  = 60
  id_token_validity      = 60
  refresh_token_validity = 12
  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "hours"
  }

  depends_on = [aws_cognito_resource_server.api]
}

# Clients with a secret, for machines (client credentials): each company integration and the
# smoke test's company, with that company's writes; and the smoke test's customer, whose orders
# are its own (by its client id).
resource "aws_cognito_user_pool_client" "machine" {
  for_each = module.grants.machine_clients

  name         = "${var.name}-${each.key}"
  user_pool_id = aws_cognito_user_pool.this.id

  generate_secret                      = true
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["client_credentials"]
  allowed_oauth_scopes                 = each.value
  explicit_auth_flows                  = ["ALLOW_REFRESH_TOKEN_AUTH"]
  enable_token_revocation              = true

  access_token_validity = 60
  token_validity_units {
    access_token = "minutes"
  }

  depends_on = [aws_cognito_resource_server.api]
}
