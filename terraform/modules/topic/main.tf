# The encrypted order-events topic and its one Lambda subscription, filtered on the `type`
# message attribute the order-processor sets.

# PassThrough: the topic hands each Publish's X-Ray trace header on to notify-carrier, so an
# order's trace (which order-processor publishes in) runs on to its SMS.
resource "aws_sns_topic" "this" {
  name              = var.name
  kms_master_key_id = var.kms_key_arn
  tracing_config    = "PassThrough"
}

resource "aws_sns_topic_subscription" "subscriber" {
  topic_arn           = aws_sns_topic.this.arn
  protocol            = "lambda"
  endpoint            = var.subscriber_function_arn
  filter_policy_scope = "MessageAttributes"
  filter_policy       = jsonencode({ type = var.filter_types })
  # What SNS cannot deliver to the function (throttled past its retries, or refused) waits in
  # the dead-letter queue instead of being dropped.
  redrive_policy = jsonencode({ deadLetterTargetArn = var.subscription_dlq_arn })
}

resource "aws_lambda_permission" "subscriber" {
  statement_id  = "from-${var.name}"
  action        = "lambda:InvokeFunction"
  function_name = var.subscriber_function_name
  qualifier     = var.subscriber_qualifier
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.this.arn
}

resource "aws_sns_sms_preferences" "this" {
  count               = var.manage_sms_preferences ? 1 : 0
  default_sms_type    = "Transactional"
  monthly_spend_limit = var.sms_monthly_spend_limit
  default_sender_id   = var.sms_sender_id == "" ? null : var.sms_sender_id
  # Every failed SMS, and a sample of the delivered ones, logged by SNS to CloudWatch Logs
  # (sns/<region>/<account>/DirectPublishToPhoneNumber[/Failure]).
  delivery_status_iam_role_arn          = aws_iam_role.sms_delivery_status[0].arn
  delivery_status_success_sampling_rate = "10"

  depends_on = [aws_cloudwatch_log_group.sms_delivery]
}

# SNS writes the SMS delivery-status logs with this role.
data "aws_iam_policy_document" "sns_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
  }
}

# SNS writes SMS delivery status into log groups it names itself,
# sns/<region>/<account>/DirectPublishToPhoneNumber and .../Failure, and would create them with
# no retention and no key: they hold phone numbers. They are made here first, with both.
locals {
  sms_log_prefix = "sns/${data.aws_region.current.region}/${data.aws_caller_identity.current.account_id}"
  sms_log_groups = var.manage_sms_preferences ? toset(["DirectPublishToPhoneNumber", "DirectPublishToPhoneNumber/Failure"]) : toset([])
}

resource "aws_cloudwatch_log_group" "sms_delivery" {
  for_each          = local.sms_log_groups
  name              = "${local.sms_log_prefix}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "sms_delivery_status" {
  statement {
    sid = "SmsDeliveryLogs"
    # The actions AWS's documentation gives SNS's delivery-status role, on those two groups only:
    # the groups exist, so creating one or setting its retention changes nothing.
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:PutMetricFilter",
      "logs:PutRetentionPolicy",
    ]
    resources = flatten([for g in aws_cloudwatch_log_group.sms_delivery : [g.arn, "${g.arn}:*"]])
  }
}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

resource "aws_iam_role" "sms_delivery_status" {
  count              = var.manage_sms_preferences ? 1 : 0
  name               = "${var.name}-sms-delivery-status"
  assume_role_policy = data.aws_iam_policy_document.sns_assume.json
}

resource "aws_iam_role_policy" "sms_delivery_status" {
  count  = var.manage_sms_preferences ? 1 : 0
  name   = "${var.name}-sms-delivery-status"
  role   = aws_iam_role.sms_delivery_status[0].id
  policy = data.aws_iam_policy_document.sms_delivery_status.json
}
