output "user_pool_id" {
  description = "The user pool."
  value       = aws_cognito_user_pool.this.id
}

output "user_pool_arn" {
  description = "The user pool's ARN (the pre-token function's invoke permission names it)."
  value       = aws_cognito_user_pool.this.arn
}

output "authorizer_env" {
  description = "The authorizer's settings from the pool: issuer, audiences (every client), scope prefix and JWKS URL."
  value = {
    JWT_ISSUER       = local.issuer
    JWT_AUDIENCE     = join(",", concat([aws_cognito_user_pool_client.page.id], [for c in aws_cognito_user_pool_client.machine : c.id]))
    JWT_SCOPE_PREFIX = local.scope_prefix
    JWKS_URL         = "${local.issuer}/.well-known/jwks.json"
  }
}

output "sign_in" {
  description = "The page's config.json `signIn`: the hosted login's authorize, token and sign-out URLs, the page's client, its scopes and the way back."
  value = {
    authorizeUrl = "${local.base_url}/oauth2/authorize"
    tokenUrl     = "${local.base_url}/oauth2/token"
    logoutUrl    = "${local.base_url}/logout"
    clientId     = aws_cognito_user_pool_client.page.id
    scopes       = module.grants.page_scopes
    scopePrefix  = local.scope_prefix
    redirectUri  = var.page_url
  }
}

output "token_url" {
  description = "The pool's token endpoint (client credentials)."
  value       = "${local.base_url}/oauth2/token"
}

output "integration_client_ids" {
  description = "Each integration's client id, by company."
  value       = { for c, name in module.grants.integration_clients : c => aws_cognito_user_pool_client.machine[name].id }
}

output "integration_client_secrets" {
  description = "Each integration's client secret, by company: hand it to the company once, over a safe channel."
  value       = { for c, name in module.grants.integration_clients : c => aws_cognito_user_pool_client.machine[name].client_secret }
  sensitive   = true
}

output "smoke" {
  description = "The smoke test's clients: a customer's and its company's (scripts/smoke-credentials reads them)."
  value = {
    token_url       = "${local.base_url}/oauth2/token"
    customer_id     = aws_cognito_user_pool_client.machine[module.grants.smoke.customer].id
    customer_secret = aws_cognito_user_pool_client.machine[module.grants.smoke.customer].client_secret
    customer_scope  = module.grants.smoke.customer_scope
    company_id      = aws_cognito_user_pool_client.machine[module.grants.smoke.company].id
    company_secret  = aws_cognito_user_pool_client.machine[module.grants.smoke.company].client_secret
    company_scope   = module.grants.smoke.company_scope
  }
  sensitive = true
}
