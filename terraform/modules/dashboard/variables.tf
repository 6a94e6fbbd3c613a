variable "name" {
  description = "The dashboard's name (one per environment)."
  type        = string
}

variable "region" {
  description = "The region the metrics are in."
  type        = string
}

variable "functions" {
  description = "Deployed function names, by crate."
  type        = map(string)
}

variable "orders_queue_name" {
  description = "The orders queue."
  type        = string
}

variable "dead_letter_queues" {
  description = "The dead-letter queues, by what they hold."
  type        = map(string)
}

variable "alarm_arns" {
  description = "The alarms whose states the dashboard shows."
  type        = list(string)
}
