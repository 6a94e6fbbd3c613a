# The encrypted order-events topic and its one Lambda subscription, filtered on the `type`
# message attribute the order-processor sets.

resource "aws_sns_topic" "this" {
  name              = var.name
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "subscriber" {
  topic_arn           = aws_sns_topic.this.arn
  protocol            = "lambda"
  endpoint            = var.subscriber_function_arn
  filter_policy_scope = "MessageAttributes"
  filter_policy       = jsonencode({ type = var.filter_types })
}

resource "aws_lambda_permission" "subscriber" {
  statement_id  = "from-${var.name}"
  action        = "lambda:InvokeFunction"
  function_name = var.subscriber_function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.this.arn
}

resource "aws_sns_sms_preferences" "this" {
  count               = var.manage_sms_preferences ? 1 : 0
  default_sms_type    = "Transactional"
  monthly_spend_limit = var.sms_monthly_spend_limit
  default_sender_id   = var.sms_sender_id == "" ? null : var.sms_sender_id
}
