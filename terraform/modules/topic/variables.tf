variable "name" {
  description = "Topic name."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the topic."
  type        = string
}

variable "subscriber_function_name" {
  description = "The Lambda function subscribed to the topic."
  type        = string
}

variable "subscriber_function_arn" {
  description = "ARN of the subscribed function."
  type        = string
}

variable "subscription_dlq_arn" {
  description = "The queue that keeps what SNS could not deliver to the subscriber (its policy must let this topic send)."
  type        = string
}

variable "filter_types" {
  description = "The values of the `type` message attribute the subscriber receives."
  type        = list(string)
}

variable "manage_sms_preferences" {
  description = "Set the account's SMS preferences (region-wide: let only one environment per account do it)."
  type        = bool
  default     = true
}

variable "sms_monthly_spend_limit" {
  description = "Account SMS spend limit in whole USD per month (AWS stops sending at it): no default, an explicit choice."
  type        = number
  validation {
    condition     = floor(var.sms_monthly_spend_limit) == var.sms_monthly_spend_limit
    error_message = "The provider takes the SMS spend limit in whole USD."
  }
}

variable "sms_sender_id" {
  description = "Alphanumeric sender id where countries support it; empty for none."
  type        = string
  default     = ""
}

variable "subscriber_qualifier" {
  description = "The subscriber's alias (the subscription's endpoint is that alias's ARN)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the SMS delivery-status logs (with manage_sms_preferences)."
  type        = number
}
