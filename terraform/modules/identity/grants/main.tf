# Who may ask the user pool for which scope: pure (no provider), so `terraform test` checks the
# grants offline. modules/identity makes the resource server and the clients from these.

locals {
  # Every scope reaches tokens as "<identifier>/<scope>", the prefix the authorizer takes off
  # (JWT_SCOPE_PREFIX).
  scope_prefix = "${var.identifier}/"

  # The API's five scopes (ARCHITECTURE.md, "Identity and authorization").
  scopes = {
    "products:read"   = "List and read products"
    "products:write"  = "Change the products of the token's company"
    "orders:write"    = "Price baskets and place orders"
    "orders:read"     = "Read one's own orders"
    "simulations:run" = "Run order simulations (operators)"
  }
  customer_scopes = ["products:read", "orders:write", "orders:read"]

  # Each integration's company, and the smoke test's, is named by a scope only its client is
  # allowed: pre-token turns it into company_id and suppresses it.
  companies      = toset(concat(var.integrations, [var.smoke_company]))
  company_scopes = { for c in local.companies : "company:${c}" => "Acts for company ${c}" }

  # Clients with a secret (client credentials), by name: a company's writes, or the smoke
  # test's customer.
  machine_clients = merge(
    { for c in local.companies : "company-${c}" => ["products:read", "products:write", "company:${c}"] },
    { smoke-customer = local.customer_scopes },
  )
}
