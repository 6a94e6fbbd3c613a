# Gradual deploys (SPEC section 9): a CodeDeploy application with a deployment group per
# function. A deployment moves the function's live alias to its new version, as the strategy
# says (a 10 % canary for 5 minutes in prod, all at once in dev), and rolls it back by itself
# when the alias's error or latency alarm fires. scripts/shift-traffic starts the deployments
# of the functions whose version changed and waits for them.

data "aws_partition" "current" {}

module "strategy" {
  source   = "./strategy"
  strategy = var.strategy
}

resource "aws_codedeploy_app" "functions" {
  name             = "${var.name}-functions"
  compute_platform = "Lambda"
}

data "aws_iam_policy_document" "codedeploy_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["codedeploy.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "codedeploy" {
  name               = "${var.name}-codedeploy"
  assume_role_policy = data.aws_iam_policy_document.codedeploy_assume.json
}

# AWS's own policy for Lambda deployments: read and move aliases, read alarms, invoke
# CodeDeployHook_* functions (none here).
resource "aws_iam_role_policy_attachment" "codedeploy" {
  role       = aws_iam_role.codedeploy.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited"
}

# The alias's own metrics: while a canary runs they cover the new version's share of the traffic.
resource "aws_cloudwatch_metric_alarm" "errors" {
  for_each = var.functions

  alarm_name          = "${each.value.function_name}-live-errors"
  alarm_description   = "${each.value.function_name}:${each.value.alias_name} failed invocations: CodeDeploy rolls a deployment back."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value.function_name, Resource = "${each.value.function_name}:${each.value.alias_name}" }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
}

resource "aws_cloudwatch_metric_alarm" "latency" {
  for_each = var.functions

  alarm_name          = "${each.value.function_name}-live-p99"
  alarm_description   = "${each.value.function_name}:${each.value.alias_name} p99 duration above half its timeout: CodeDeploy rolls a deployment back."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = each.value.function_name, Resource = "${each.value.function_name}:${each.value.alias_name}" }
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.timeout_seconds * 500
  treat_missing_data  = "notBreaching"
}

resource "aws_codedeploy_deployment_group" "function" {
  for_each = var.functions

  app_name               = aws_codedeploy_app.functions.name
  deployment_group_name  = each.key
  service_role_arn       = aws_iam_role.codedeploy.arn
  deployment_config_name = module.strategy.deployment_config_name

  deployment_style {
    deployment_option = "WITH_TRAFFIC_CONTROL"
    deployment_type   = "BLUE_GREEN"
  }

  alarm_configuration {
    enabled = true
    alarms  = [aws_cloudwatch_metric_alarm.errors[each.key].alarm_name, aws_cloudwatch_metric_alarm.latency[each.key].alarm_name]
  }

  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
  }
}
