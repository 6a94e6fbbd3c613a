# The operator's dashboard as CloudWatch reads it (a pure module: `terraform test` checks it
# offline). The same panels as delivery-local's console, from the same metrics: the functions'
# EMF metrics (namespace Delivery, dimension Function), SQS's queue depth, Lambda's errors and
# throttles, and the alarms' states. (Faults are injected only by delivery-local: no panel.)

locals {
  namespace = "Delivery"
  fn        = var.functions

  # [namespace, metric, dimension, value, options]: one line of a metric widget.
  emf = {
    placed       = [local.namespace, "OrdersPlaced", "Function", local.fn["place-order"], { stat = "Sum", label = "placed (API)" }]
    simulated    = [local.namespace, "OrdersPlaced", "Function", local.fn["order-simulator"], { stat = "Sum", label = "placed (rehearsal)" }]
    accepted     = [local.namespace, "OrdersAccepted", "Function", local.fn["order-processor"], { stat = "Sum", label = "accepted" }]
    rejected     = [local.namespace, "OrdersRejected", "Function", local.fn["order-processor"], { stat = "Sum", label = "rejected" }]
    dispatched   = [local.namespace, "OrdersDispatched", "Function", local.fn["notify-carrier"], { stat = "Sum", label = "dispatched" }]
    deadlettered = [local.namespace, "OrdersDeadLettered", "Function", local.fn["order-processor"], { stat = "Sum", label = "dead-lettered" }]
    sms          = [local.namespace, "SmsSent", "Function", local.fn["notify-carrier"], { stat = "Sum", label = "SMS sent" }]
    p50          = [local.namespace, "ProcessingLatency", "Function", local.fn["order-processor"], { stat = "p50", label = "p50" }]
    p99          = [local.namespace, "ProcessingLatency", "Function", local.fn["order-processor"], { stat = "p99", label = "p99" }]
    sms_p50      = [local.namespace, "OrderToSmsLatency", "Function", local.fn["notify-carrier"], { stat = "p50", label = "order → SMS p50" }]
    sms_p99      = [local.namespace, "OrderToSmsLatency", "Function", local.fn["notify-carrier"], { stat = "p99", label = "order → SMS p99" }]
    reconciled   = [local.namespace, "OrdersReconciled", "Function", local.fn["reconciler"], { stat = "Sum", label = "orders announced again" }]
    stalled      = [local.namespace, "ImportsReconciled", "Function", local.fn["reconciler"], { stat = "Sum", label = "stalled imports failed" }]
  }

  queue = [
    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.orders_queue_name, { stat = "Maximum", label = "waiting" }],
    ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", var.orders_queue_name, { stat = "Maximum", label = "in flight" }],
  ]
  dead_letters = [
    for what, name in var.dead_letter_queues :
    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name, { stat = "Maximum", label = "${what} DLQ" }]
  ]
  lambda_errors = [
    for crate, name in var.functions : ["AWS/Lambda", "Errors", "FunctionName", name, { stat = "Sum", label = "${crate} errors" }]
  ]
  lambda_throttles = [
    for crate, name in var.functions : ["AWS/Lambda", "Throttles", "FunctionName", name, { stat = "Sum", label = "${crate} throttles" }]
  ]

  metric_widgets = [
    { title = "Orders (per minute)", metrics = [for k in ["placed", "simulated", "accepted", "rejected", "dispatched"] : local.emf[k]] },
    { title = "Orders queue (messages)", metrics = concat(local.queue, local.dead_letters) },
    { title = "Latency from the order's 202 (ms): recorded, and texted", metrics = [local.emf.p50, local.emf.p99, local.emf.sms_p50, local.emf.sms_p99] },
    { title = "SMS sent and orders dead-lettered (per minute)", metrics = [local.emf.sms, local.emf.deadlettered] },
    { title = "Healed by the reconciler (per run, every 5 minutes)", metrics = [local.emf.reconciled, local.emf.stalled] },
    { title = "Lambda errors", metrics = local.lambda_errors },
    { title = "Lambda throttles", metrics = local.lambda_throttles },
  ]

  widgets = concat(
    [
      for i, w in local.metric_widgets : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = w.title
          region  = var.region
          view    = "timeSeries"
          stacked = false
          period  = 60
          metrics = w.metrics
        }
      }
    ],
    [{
      type   = "alarm"
      x      = 0
      y      = ceil(length(local.metric_widgets) / 2) * 6
      width  = 24
      height = 4
      properties = {
        title  = "Alarms"
        alarms = var.alarm_arns
      }
    }],
  )
}

output "body" {
  description = "The dashboard's JSON body."
  value       = jsonencode({ widgets = local.widgets })
}
