variable "name_prefix" {
  description = "The environment's name, which begins every alarm's name once (the function names already begin with it)."
  type        = string
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
  description = "Functions whose Lambda Errors include outcomes of their design (the authorizer's refused tokens, notify-carrier's retried deliveries): the Faults metric they emit raises their alarm instead of their Errors."
  type        = list(string)
}

variable "reconciler_function" {
  description = "The reconciler's function name: its OrdersReconciled and ImportsReconciled (EMF, namespace Delivery) raise alarms."
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
}

variable "events_topic_name" {
  description = "The order-events topic: a failed delivery to its subscriber is an alarm."
  type        = string
}

variable "sms_monthly_spend_limit" {
  description = "The account's SMS spend limit in USD per month: spending 80 % of it is an alarm (AWS stops sending at the limit)."
  type        = number
}

variable "sms_countries" {
  description = "ISO 3166-1 alpha-2 codes of the carriers' phones: an SMS success rate under 90 % in one is an alarm."
  type        = list(string)
}
