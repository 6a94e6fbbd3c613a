output "name" {
  description = "The queue's name."
  value       = aws_sqs_queue.this.name
}

output "url" {
  description = "The queue's URL (ORDERS_QUEUE_URL)."
  value       = aws_sqs_queue.this.id
}

output "arn" {
  description = "The queue's ARN."
  value       = aws_sqs_queue.this.arn
}

output "dlq_name" {
  description = "The dead-letter queue's name."
  value       = aws_sqs_queue.dlq.name
}

output "dlq_url" {
  description = "The dead-letter queue's URL (ORDERS_DLQ_URL)."
  value       = aws_sqs_queue.dlq.id
}

output "dlq_arn" {
  description = "The dead-letter queue's ARN."
  value       = aws_sqs_queue.dlq.arn
}

output "visibility_timeout_seconds" {
  description = "How long a received message stays hidden: a consumer that died hands it back after this."
  value       = aws_sqs_queue.this.visibility_timeout_seconds
}
