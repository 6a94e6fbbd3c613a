# The operator's dashboard, checked offline: the console's panels from the same metrics.

variables {
  region = "eu-west-1"
  functions = {
    "place-order"     = "delivery-dev-place-order"
    "order-simulator" = "delivery-dev-order-simulator"
    "order-processor" = "delivery-dev-order-processor"
    "notify-carrier"  = "delivery-dev-notify-carrier"
    "list-products"   = "delivery-dev-list-products"
    "reconciler"      = "delivery-dev-reconciler"
  }
  orders_queue_name  = "delivery-dev-orders"
  dead_letter_queues = { orders = "delivery-dev-orders-dlq", notifications = "delivery-dev-notifications-dlq" }
  alarm_arns         = ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:delivery-dev-orders-dlq"]
}

run "the_console_s_metrics_under_the_same_names" {
  command = apply

  assert {
    condition = alltrue([
      for metric in ["OrdersPlaced", "OrdersAccepted", "OrdersRejected", "OrdersDispatched", "OrdersDeadLettered", "SmsSent", "ProcessingLatency", "OrderToSmsLatency", "OrdersReconciled", "ImportsReconciled"] :
      strcontains(output.body, "\"${metric}\"")
    ])
    error_message = "Every metric of the console must have its panel."
  }

  assert {
    condition = alltrue([
      for w in jsondecode(output.body).widgets : w.type != "metric" || w.properties.region == "eu-west-1"
    ])
    error_message = "Every panel reads its environment's region."
  }

  assert {
    condition     = strcontains(output.body, "ApproximateNumberOfMessagesVisible") && strcontains(output.body, "delivery-dev-orders-dlq") && strcontains(output.body, "delivery-dev-notifications-dlq")
    error_message = "The queue panel shows the orders queue and every DLQ."
  }

  assert {
    condition     = jsonencode(one([for w in jsondecode(output.body).widgets : w.properties.alarms if w.type == "alarm"])) == jsonencode(var.alarm_arns)
    error_message = "The alarms' states have their panel."
  }

  assert {
    condition     = length([for w in jsondecode(output.body).widgets : w if w.type == "metric" && strcontains(jsonencode(w), "AWS/Lambda")]) == 2
    error_message = "Lambda errors and throttles have their panels, for every function."
  }
}
