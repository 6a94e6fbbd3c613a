run "prod_is_a_canary" {
  command = plan
  variables {
    strategy = "canary"
  }
  assert {
    condition     = output.deployment_config_name == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    error_message = "prod must shift 10 % of the traffic for 5 minutes first"
  }
  assert {
    condition     = output.gradual
    error_message = "a canary is gradual"
  }
}

run "dev_is_all_at_once" {
  command = plan
  variables {
    strategy = "all-at-once"
  }
  assert {
    condition     = output.deployment_config_name == "CodeDeployDefault.LambdaAllAtOnce"
    error_message = "dev shifts everything at once"
  }
}

run "anything_else_is_refused" {
  command = plan
  variables {
    strategy = "blue-green"
  }
  expect_failures = [var.strategy]
}
