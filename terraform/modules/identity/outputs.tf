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
    JWT_AUDIENCE     = join(",", concat([aws_cognito_user_pool_client.page.id, aws_cognito_user_pool_client.smoke.id], [for c in aws_cognito_user_pool_client.integration : c.id]))
    JWT_SCOPE_PREFIX = local.scope_prefix
    JWKS_URL         = "${local.issuer}/.well-known/jwks.json"
  }
}

output "sign_in" {
  description = "The page's config.json `signIn`: the hosted login's authorize and token URLs, the page's client, its scopes and the way back."
  value = {
    authorizeUrl = "${local.base_url}/oauth2/authorize"
    tokenUrl     = "${local.base_url}/oauth2/token"
    clientId     = aws_cognito_user_pool_client.page.id
    scopes       = local.page_scopes
    scopePrefix  = local.scope_prefix
    redirectUri  = var.page_url
  }
}

output "token_url" {
  description = "The pool's token endpoint (client credentials)."
  value       = "${local.base_url}/oauth2/token"
}

output "integration_client_ids" {
  description = "Each integration's client id, by company (the smoke test's company included)."
  value       = { for c, client in aws_cognito_user_pool_client.integration : c => client.id }
}

output "integration_client_secrets" {
  description = "Each integration's client secret, by company: hand it to the company once, over a safe channel."
  value       = { for c, client in aws_cognito_user_pool_client.integration : c => client.client_secret }
  sensitive   = true
}

output "smoke" {
  description = "The smoke test's clients: a customer's and its company's (scripts/smoke-credentials reads them)."
  value = {
    token_url       = "${local.base_url}/oauth2/token"
    customer_id     = aws_cognito_user_pool_client.smoke.id
    customer_secret = aws_cognito_user_pool_client.smoke.client_secret
    customer_scope  = join(" ", [for s in local.customer_scopes : "${local.scope_prefix}${s}"])
    company_id      = aws_cognito_user_pool_client.integration[var.smoke_company].id
    company_secret  = aws_cognito_user_pool_client.integration[var.smoke_company].client_secret
    company_scope   = join(" ", ["${local.scope_prefix}products:write", "${local.scope_prefix}company:${var.smoke_company}"])
  }
  sensitive = true
}
