variable "region" {
  description = "The region the metrics are in."
  type        = string
}

variable "functions" {
  description = "Deployed function names, by crate (place-order, order-simulator, order-processor, notify-carrier, ...)."
  type        = map(string)

  validation {
    condition = alltrue([
      for crate in ["place-order", "order-simulator", "order-processor", "notify-carrier"] : contains(keys(var.functions), crate)
    ])
    error_message = "The dashboard needs place-order, order-simulator, order-processor and notify-carrier."
  }
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
