variable "name_prefix" {
  description = "Prefix of the alarm names and of the alarm topic."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the alarm topic (its policy must let CloudWatch use it)."
  type        = string
}

variable "alarm_email" {
  description = "An e-mail address subscribed to the alarm topic; empty for none."
  type        = string
  default     = ""
}

variable "dead_letter_queues" {
  description = "Dead-letter queue names by role: any message in one is an alarm."
  type        = map(string)
}

variable "function_names" {
  description = "Functions whose errors and throttles raise alarms."
  type        = list(string)
}

variable "faults_only_functions" {
  description = "Functions whose own faults (the Faults metric), not their Lambda Errors, raise an alarm: the authorizer (refused tokens) and notify-carrier (retried deliveries)."
  type        = list(string)
}

variable "events_topic_name" {
  description = "The order-events topic, whose failed deliveries raise an alarm."
  type        = string
}

variable "sms_monthly_spend_limit" {
  description = "The account's SMS spend limit in USD per month (80 % of it raises an alarm)."
  type        = number
}

variable "sms_countries" {
  description = "Countries (ISO 3166-1 alpha-2) of the carriers' phones, for the SMS success-rate alarms."
  type        = list(string)
}

variable "reconciler_function" {
  description = "The reconciler's function name (its healing raises alarms)."
  type        = string
}

variable "api_name" {
  description = "The REST API's name."
  type        = string
}

variable "api_stage" {
  description = "The REST API's stage."
  type        = string
}

variable "api_p99_latency_ms" {
  description = "API p99 latency above which the alarm fires."
  type        = number
  default     = 2000
}

variable "period_seconds" {
  description = "Evaluation period of every alarm."
  type        = number
  default     = 300
}
