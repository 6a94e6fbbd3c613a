# Every alarm of an environment, by name: what it watches and when it fires. Pure (no provider),
# so `terraform test` checks it offline; the alarms module raises one alarm per entry.

locals {
  api = { ApiName = var.api_name, Stage = var.api_stage }

  dead_letters = {
    for role, queue in var.dead_letter_queues : "${role}-dead-letters" => {
      description = "Messages are waiting in ${queue}: inspect their reasons, fix, then redrive (docs/operations.md, Rolling back)."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = queue }
      statistic   = "Maximum"
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      periods     = 1
    }
  }

  # Errors and throttles of every function; for the functions whose Errors include outcomes
  # of their design (the authorizer's refused tokens, API Gateway's 401; notify-carrier's
  # deliveries that Lambda retries), the faults they count themselves instead.
  functions = merge([
    for f in var.function_names : {
      for metric in(contains(var.faults_only_functions, f) ? ["Throttles"] : ["Errors", "Throttles"]) :
      "${f}-${lower(metric)}" => {
        description = "${f}: ${metric} above zero."
        namespace   = "AWS/Lambda"
        metric      = metric
        dimensions  = { FunctionName = f }
        statistic   = "Sum"
        comparison  = "GreaterThanThreshold"
        threshold   = 0
        periods     = 1
      }
    }
  ]...)

  faults = {
    for f in var.faults_only_functions : "${f}-faults" => {
      description = "${f} failed for a reason of its own (the authorizer: a key set it cannot refresh; notify-carrier: a delivery that cannot succeed), not a refused token or a retried delivery."
      namespace   = "Delivery"
      metric      = "Faults"
      dimensions  = { Function = f }
      statistic   = "Sum"
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      periods     = 1
    }
  }

  # The reconciler healing is a symptom: an order announced again every run for 15 minutes
  # means events keep getting lost (or notify-carrier keeps failing), and any stalled import
  # means an import's file was given up on (its message dead-lettered, or unreadable).
  reconciler = {
    orders-reconciled = {
      description = "The reconciler announced accepted orders again for three runs in a row: order events are being lost or not handled (docs/operations.md, The reconciler)."
      namespace   = "Delivery"
      metric      = "OrdersReconciled"
      dimensions  = { Function = var.reconciler_function }
      statistic   = "Sum"
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      periods     = 3
    }
    imports-reconciled = {
      description = "The reconciler failed a stalled import: its file was given up on (docs/operations.md, The reconciler)."
      namespace   = "Delivery"
      metric      = "ImportsReconciled"
      dimensions  = { Function = var.reconciler_function }
      statistic   = "Sum"
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      periods     = 1
    }
  }

  api_alarms = {
    api-5xx = {
      description = "The API answered 5xx: a real fault (no client input may cause one)."
      namespace   = "AWS/ApiGateway"
      metric      = "5XXError"
      dimensions  = local.api
      statistic   = "Sum"
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      periods     = 1
    }
    api-p99-latency = {
      description = "API p99 latency above ${var.api_p99_latency_ms} ms for three periods."
      namespace   = "AWS/ApiGateway"
      metric      = "Latency"
      dimensions  = local.api
      statistic   = "p99"
      comparison  = "GreaterThanThreshold"
      threshold   = var.api_p99_latency_ms
      periods     = 3
    }
  }

  sms = merge(
    {
      events-delivery-failures = {
        description = "The order-events topic failed to deliver to notify-carrier: carriers may not be texted."
        namespace   = "AWS/SNS"
        metric      = "NumberOfNotificationsFailed"
        dimensions  = { TopicName = var.events_topic_name }
        statistic   = "Sum"
        comparison  = "GreaterThanThreshold"
        threshold   = 0
        periods     = 1
      }
      sms-spend = {
        description = "SMS spend this month passed 80 % of the ${var.sms_monthly_spend_limit} USD limit: at the limit AWS stops sending, account-wide. Raise sms_monthly_spend_limit."
        namespace   = "AWS/SNS"
        metric      = "SMSMonthToDateSpentUSD"
        dimensions  = {}
        statistic   = "Maximum"
        comparison  = "GreaterThanThreshold"
        threshold   = 0.8 * var.sms_monthly_spend_limit
        periods     = 1
      }
    },
    {
      for country in var.sms_countries : "sms-success-${lower(country)}" => {
        description = "Under 90 % of the SMS to ${country} were delivered for three periods (see the SMS delivery logs)."
        namespace   = "AWS/SNS"
        metric      = "SMSSuccessRate"
        dimensions  = { Country = country, SMSType = "Transactional" }
        statistic   = "Average"
        comparison  = "LessThanThreshold"
        threshold   = 0.9
        periods     = 3
      }
    },
  )
}

output "alarms" {
  description = "Every alarm by its full name (each once prefixed with name_prefix): description, namespace, metric, dimensions, statistic, comparison, threshold, periods."
  value = merge(
    # The function names already start with the environment's name.
    local.functions,
    local.faults,
    { for k, v in merge(local.dead_letters, local.api_alarms, local.sms, local.reconciler) : "${var.name_prefix}-${k}" => v },
  )
}
