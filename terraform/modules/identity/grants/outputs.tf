output "identifier" {
  description = "The resource server's identifier."
  value       = var.identifier
}

output "scope_prefix" {
  description = "What the pool puts before each scope (the authorizer's JWT_SCOPE_PREFIX)."
  value       = local.scope_prefix
}

output "resource_server_scopes" {
  description = "The resource server's scopes, by name: the API's five and one per company."
  value       = merge(local.scopes, local.company_scopes)
}

output "page_scopes" {
  description = "What the web page asks for: OpenID and every API scope (pre-token keeps a user's own)."
  value       = concat(["openid", "email"], [for s in keys(local.scopes) : "${local.scope_prefix}${s}"])
}

output "machine_clients" {
  description = "The client-credentials clients, by name, with the scopes each is allowed (prefixed)."
  value       = { for name, scopes in local.machine_clients : name => [for s in scopes : "${local.scope_prefix}${s}"] }
}

output "integration_clients" {
  description = "The machine client of each integration, by company."
  value       = { for c in var.integrations : c => "company-${c}" }
}

output "smoke" {
  description = "The smoke test's clients (by name) and the scopes each asks for."
  value = {
    customer       = "smoke-customer"
    customer_scope = join(" ", [for s in local.customer_scopes : "${local.scope_prefix}${s}"])
    company        = "company-${var.smoke_company}"
    company_scope  = "${local.scope_prefix}products:write ${local.scope_prefix}company:${var.smoke_company}"
  }
}
