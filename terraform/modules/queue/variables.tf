variable "name" {
  description = "Queue name; the dead-letter queue is <name>-dlq."
  type        = string
}

variable "consumer_timeout_seconds" {
  description = "The consuming function's timeout. The visibility timeout is six times it (AWS's guidance for Lambda event sources)."
  type        = number
}

variable "max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "message_retention_seconds" {
  description = "How long the queue keeps a message."
  type        = number
  default     = 345600
}

variable "dlq_retention_seconds" {
  description = "How long the dead-letter queue keeps a message (the maximum, so an operator has time to redrive)."
  type        = number
  default     = 1209600
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for both queues."
  type        = string
}
