output "bucket_name" {
  description = "The imports bucket (IMPORTS_BUCKET)."
  value       = aws_s3_bucket.files.bucket
}

output "bucket_arn" {
  description = "The imports bucket's ARN."
  value       = aws_s3_bucket.files.arn
}

output "queue_arn" {
  description = "The imports queue, which the bucket notifies and import-catalog consumes."
  value       = module.queue.arn
}

output "queue_name" {
  description = "The imports queue's name."
  value       = module.queue.name
}

output "dlq_name" {
  description = "The imports queue's dead-letter queue."
  value       = module.queue.dlq_name
}

output "visibility_timeout_seconds" {
  description = "The imports queue's visibility timeout: an import whose importer died waits this long for its next delivery."
  value       = module.queue.visibility_timeout_seconds
}
