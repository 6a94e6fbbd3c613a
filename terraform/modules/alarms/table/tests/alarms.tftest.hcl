# The alarm table, checked offline (`terraform test`): alarms that mean something.

variables {
  name_prefix             = "d"
  dead_letter_queues      = { orders = "d-orders-dlq", notifications = "d-notifications-dlq" }
  function_names          = ["d-authorizer", "d-place-order", "d-notify-carrier"]
  faults_only_functions   = ["d-authorizer", "d-notify-carrier"]
  api_name                = "d"
  api_stage               = "v1"
  api_p99_latency_ms      = 2000
  events_topic_name       = "d-order-events"
  sms_monthly_spend_limit = 50
  sms_countries           = ["US", "BR"]
  reconciler_function     = "d-reconciler"
}

run "a_refused_token_is_not_an_alarm_but_an_authorizer_fault_is" {
  command = apply

  assert {
    condition     = !contains(keys(output.alarms), "d-authorizer-errors")
    error_message = "The authorizer's Errors are refused tokens (401s): no alarm on them."
  }

  assert {
    condition     = output.alarms["d-authorizer-faults"].metric == "Faults" && output.alarms["d-authorizer-faults"].namespace == "Delivery" && output.alarms["d-authorizer-faults"].dimensions.Function == "d-authorizer"
    error_message = "The authorizer's own faults (the EMF metric it emits) raise an alarm."
  }

  assert {
    condition     = !contains(keys(output.alarms), "d-notify-carrier-errors") && output.alarms["d-notify-carrier-faults"].metric == "Faults"
    error_message = "A delivery Lambda retries is no alarm; notify-carrier's own faults are."
  }

  assert {
    condition     = !contains(keys(output.alarms), "d-place-order-faults")
    error_message = "Every other function's errors are its faults: no second alarm."
  }

  assert {
    condition     = contains(keys(output.alarms), "d-place-order-errors") && contains(keys(output.alarms), "d-authorizer-throttles")
    error_message = "Every other function's errors, and every throttle, raise alarms."
  }
}

run "sms_cannot_silently_stop" {
  command = apply

  assert {
    condition     = output.alarms["d-sms-spend"].threshold == 40 && output.alarms["d-sms-spend"].metric == "SMSMonthToDateSpentUSD"
    error_message = "Spending 80 % of the SMS limit raises an alarm, before AWS stops sending."
  }

  assert {
    condition = alltrue([
      for c in ["us", "br"] :
      output.alarms["d-sms-success-${c}"].comparison == "LessThanThreshold" && output.alarms["d-sms-success-${c}"].threshold == 0.9
    ])
    error_message = "A low SMS success rate in any carriers' country raises an alarm."
  }

  assert {
    condition     = output.alarms["d-events-delivery-failures"].dimensions.TopicName == "d-order-events"
    error_message = "A failed delivery of the order-events topic to notify-carrier raises an alarm."
  }
}

run "every_alarm_names_the_environment_once" {
  command = apply

  assert {
    condition     = alltrue([for name in keys(output.alarms) : startswith(name, "d-") && !startswith(name, "d-d-")])
    error_message = "Every alarm's name begins with the environment's name, once (not delivery-prod-delivery-prod-…)."
  }

  assert {
    condition     = contains(keys(output.alarms), "d-orders-dead-letters") && contains(keys(output.alarms), "d-api-5xx")
    error_message = "Alarms that are not a function's are prefixed with the environment's name."
  }
}

run "a_reconciler_that_keeps_healing_is_an_alarm" {
  command = apply

  assert {
    condition     = output.alarms["d-orders-reconciled"].periods == 3 && output.alarms["d-orders-reconciled"].dimensions.Function == "d-reconciler" && output.alarms["d-orders-reconciled"].namespace == "Delivery"
    error_message = "Orders announced again for three runs in a row (15 minutes) raise an alarm; one run's healing does not."
  }

  assert {
    condition     = output.alarms["d-imports-reconciled"].periods == 1 && output.alarms["d-imports-reconciled"].metric == "ImportsReconciled"
    error_message = "Any stalled import the reconciler fails raises an alarm."
  }
}
