# Gradual deploys: a CodeDeploy application with a deployment group per function. A deployment
# moves the function's live alias to its new version, as the strategy says (a 10 % canary for
# 5 minutes in prod, all at once in dev), and rolls it back by itself when one of the new
# version's alarms fires while it watches. All at once (dev) leaves it no time to watch: there
# the smoke test is the gate, and a bad version is rolled forward by the next commit. scripts/shift-traffic starts the deployments
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

# What marks a new version bad, counted for that version only (a canary's traffic is split: the
# old version's faults must not roll the new one back). The alarm's dimension is the version the
# apply just published; scripts/shift-traffic then deploys exactly that version.
#
# Its own faults (the Faults metric every function emits by function and version): a 5xx
# answer, an event it failed for a reason of its own. Never a refused token or a delivery that
# Lambda will retry, which are the function working as designed.
resource "aws_cloudwatch_metric_alarm" "faults" {
  for_each = var.functions

  alarm_name          = "${each.value.function_name}-canary-faults"
  alarm_description   = "Version ${each.value.version} of ${each.value.function_name} counted a fault of its own: CodeDeploy rolls its deployment back."
  namespace           = "Delivery"
  metric_name         = "Faults"
  dimensions          = { Function = each.value.function_name, Version = each.value.version }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
}

# Lambda's Errors of the new version behind the alias (ExecutedVersion), for the functions
# whose every error is a fault (a crash, a timeout): not the authorizer's or notify-carrier's,
# whose errors include refused tokens and retried deliveries.
resource "aws_cloudwatch_metric_alarm" "errors" {
  for_each = { for k, f in var.functions : k => f if f.errors_are_faults }

  alarm_name          = "${each.value.function_name}-canary-errors"
  alarm_description   = "Version ${each.value.version} of ${each.value.function_name} failed invocations (crashes, timeouts): CodeDeploy rolls its deployment back."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value.function_name, Resource = "${each.value.function_name}:${each.value.alias_name}", ExecutedVersion = each.value.version }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
}

resource "aws_cloudwatch_metric_alarm" "latency" {
  for_each = var.functions

  alarm_name          = "${each.value.function_name}-canary-p99"
  alarm_description   = "Version ${each.value.version} of ${each.value.function_name}: p99 duration above half its timeout: CodeDeploy rolls its deployment back."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = each.value.function_name, Resource = "${each.value.function_name}:${each.value.alias_name}", ExecutedVersion = each.value.version }
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
    alarms = concat(
      [aws_cloudwatch_metric_alarm.faults[each.key].alarm_name, aws_cloudwatch_metric_alarm.latency[each.key].alarm_name],
      [for k, a in aws_cloudwatch_metric_alarm.errors : a.alarm_name if k == each.key],
    )
  }

  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
  }
}
