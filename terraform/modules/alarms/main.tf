# Alarms to one encrypted SNS topic: any dead letter, any function error or throttle, API 5xx,
# and API p99 latency.

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  api = { ApiName = var.api_name, Stage = var.api_stage }

  # Every alarm, by name: what it watches and when it fires. One resource below raises them all.
  alarms = merge(
    {
      for role, queue in var.dead_letter_queues : "${role}-dead-letters" => {
        description = "Messages are waiting in ${queue}: inspect their reasons, fix, then redrive."
        namespace   = "AWS/SQS"
        metric      = "ApproximateNumberOfMessagesVisible"
        dimensions  = { QueueName = queue }
        statistic   = "Maximum"
        threshold   = 0
        periods     = 1
      }
    },
    merge([
      for f in var.function_names : {
        for metric in ["Errors", "Throttles"] : "${f}-${lower(metric)}" => {
          description = "${f}: ${metric} above zero."
          namespace   = "AWS/Lambda"
          metric      = metric
          dimensions  = { FunctionName = f }
          statistic   = "Sum"
          threshold   = 0
          periods     = 1
        }
      }
    ]...),
    {
      api-5xx = {
        description = "The API answered 5xx: a real fault (no client input may cause one)."
        namespace   = "AWS/ApiGateway"
        metric      = "5XXError"
        dimensions  = local.api
        statistic   = "Sum"
        threshold   = 0
        periods     = 1
      }
      api-p99-latency = {
        description = "API p99 latency above ${var.api_p99_latency_ms} ms for three periods."
        namespace   = "AWS/ApiGateway"
        metric      = "Latency"
        dimensions  = local.api
        statistic   = "p99"
        threshold   = var.api_p99_latency_ms
        periods     = 3
      }
    },
  )
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = startswith(each.value.statistic, "p") ? null : each.value.statistic
  extended_statistic  = startswith(each.value.statistic, "p") ? each.value.statistic : null
  period              = var.period_seconds
  evaluation_periods  = each.value.periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
