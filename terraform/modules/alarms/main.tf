# Alarms to one encrypted SNS topic, one per entry of the pure alarm table (./table, checked by
# `terraform test`): dead letters, function errors and throttles, the authorizer's faults, API 5xx
# and p99 latency, failed deliveries of the events topic, SMS spend and SMS success rates.

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

module "table" {
  source = "./table"

  name_prefix             = var.name_prefix
  dead_letter_queues      = var.dead_letter_queues
  function_names          = var.function_names
  faults_only_functions   = var.faults_only_functions
  reconciler_function     = var.reconciler_function
  api_name                = var.api_name
  api_stage               = var.api_stage
  api_p99_latency_ms      = var.api_p99_latency_ms
  events_topic_name       = var.events_topic_name
  sms_monthly_spend_limit = var.sms_monthly_spend_limit
  sms_countries           = var.sms_countries
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = module.table.alarms

  alarm_name          = each.key
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = startswith(each.value.statistic, "p") ? null : each.value.statistic
  extended_statistic  = startswith(each.value.statistic, "p") ? each.value.statistic : null
  period              = var.period_seconds
  evaluation_periods  = each.value.periods
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
