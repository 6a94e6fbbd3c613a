output "url" {
  description = "The page's HTTPS URL."
  value       = "https://${aws_cloudfront_distribution.page.domain_name}"
}

output "origin" {
  description = "The page's origin, for the API's CORS_ALLOWED_ORIGINS."
  value       = "https://${aws_cloudfront_distribution.page.domain_name}"
}

output "bucket" {
  description = "The bucket the deploy uploads the page and its config.json to."
  value       = aws_s3_bucket.page.bucket
}

output "distribution_id" {
  description = "The distribution to invalidate after an upload."
  value       = aws_cloudfront_distribution.page.id
}
