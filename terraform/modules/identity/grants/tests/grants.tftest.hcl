run "the_scopes_are_the_specs" {
  command = plan
  assert {
    condition = toset(keys(output.resource_server_scopes)) == toset([
      "products:read", "products:write", "orders:write", "orders:read", "simulations:run", "company:smoke-test",
    ])
    error_message = "the resource server has the API's scopes and the smoke test's company"
  }
  assert {
    condition = toset(output.page_scopes) == toset([
      "openid", "email", "delivery/products:read", "delivery/products:write", "delivery/orders:write",
      "delivery/orders:read", "delivery/simulations:run",
    ])
    error_message = "the page asks for every API scope (pre-token keeps a user's own), and no company's"
  }
  assert {
    condition     = output.scope_prefix == "delivery/"
    error_message = "the authorizer reads scopes after delivery/"
  }
}

run "each_integration_acts_for_its_own_company_only" {
  command = plan
  variables {
    integrations = ["acme", "globex"]
  }
  assert {
    condition     = output.machine_clients[output.integration_clients["acme"]] == ["delivery/products:read", "delivery/products:write", "delivery/company:acme"]
    error_message = "acme's client writes acme's products only"
  }
  assert {
    condition     = output.machine_clients[output.integration_clients["globex"]] == ["delivery/products:read", "delivery/products:write", "delivery/company:globex"]
    error_message = "globex's client writes globex's products only"
  }
  assert {
    condition     = length([for name, scopes in output.machine_clients : name if contains(scopes, "delivery/company:acme")]) == 1
    error_message = "no other client may act for acme"
  }
  assert {
    condition     = alltrue([for scopes in values(output.machine_clients) : !contains(scopes, "delivery/simulations:run")])
    error_message = "no machine may run simulations"
  }
  assert {
    condition     = contains(keys(output.resource_server_scopes), "company:globex")
    error_message = "each integration's company has its scope"
  }
}

run "the_smoke_test_is_a_customer_and_a_company_of_its_own" {
  command = plan
  variables {
    integrations = ["acme"]
  }
  assert {
    condition     = output.machine_clients[output.smoke.customer] == ["delivery/products:read", "delivery/orders:write", "delivery/orders:read"]
    error_message = "the smoke test's customer has a customer's scopes"
  }
  assert {
    condition     = contains(output.machine_clients[output.smoke.company], "delivery/company:smoke-test")
    error_message = "the smoke test's company is its own"
  }
  assert {
    condition     = output.smoke.company_scope == "delivery/products:write delivery/company:smoke-test"
    error_message = "the smoke test asks for its company's writes"
  }
}

run "the_smoke_test_never_acts_for_a_real_company" {
  command = plan
  variables {
    integrations  = ["acme"]
    smoke_company = "acme"
  }
  expect_failures = [var.smoke_company]
}

run "an_integration_must_be_a_company_id" {
  command = plan
  variables {
    integrations = ["ac me"]
  }
  expect_failures = [var.integrations]
}
