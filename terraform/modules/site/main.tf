# The static web page: a private S3 bucket read only by CloudFront (origin access control),
# served over HTTPS only with security headers. The deploy workflow uploads web/ and writes
# config.json (the API's URL) into the bucket.

data "aws_region" "current" {}

resource "aws_s3_bucket" "page" {
  #checkov:skip=CKV_AWS_145:the bucket holds the public page; SSE-S3 suffices and lets CloudFront read it without a KMS grant
  #checkov:skip=CKV_AWS_144:no replica: every deploy rebuilds the page from git
  #checkov:skip=CKV2_AWS_62:nothing reacts to page uploads
  #checkov:skip=CKV_AWS_18:the page is public and static; requests are audited in the API's access logs
  bucket_prefix = "${var.name}-page-"
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "page" {
  bucket                  = aws_s3_bucket.page.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "page" {
  bucket = aws_s3_bucket.page.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "page" {
  bucket = aws_s3_bucket.page.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# Versions let an operator restore the previous page; old ones expire.
resource "aws_s3_bucket_versioning" "page" {
  bucket = aws_s3_bucket.page.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "page" {
  bucket = aws_s3_bucket.page.id
  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_cloudfront_origin_access_control" "page" {
  name                              = "${var.name}-page"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_response_headers_policy" "page" {
  name = "${var.name}-page-security"

  security_headers_config {
    # The page's own files only; the API is reached on this region's execute-api hosts (its
    # exact URL is only known after the API, which itself needs this domain for CORS).
    content_security_policy {
      content_security_policy = join("; ", [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        # The API, the imports bucket the page uploads files to (presigned PUT), and the hosted
        # login's token endpoint (a Cognito domain of this region, when there is one).
        "connect-src 'self' https://*.execute-api.${data.aws_region.current.region}.amazonaws.com https://*.s3.${data.aws_region.current.region}.amazonaws.com https://*.auth.${data.aws_region.current.region}.amazoncognito.com",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
      ])
      override = true
    }
    strict_transport_security {
      access_control_max_age_sec = 63072000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    content_type_options {
      override = true
    }
    referrer_policy {
      referrer_policy = "no-referrer"
      override        = true
    }
  }
}

data "aws_cloudfront_cache_policy" "optimized" {
  name = "Managed-CachingOptimized"
}

resource "aws_cloudfront_distribution" "page" {
  #checkov:skip=CKV_AWS_68:no WAF in front of a static page; the API behind it is throttled and authenticated
  #checkov:skip=CKV2_AWS_47:no WAF in front of a static page (see CKV_AWS_68)
  #checkov:skip=CKV_AWS_86:no access logs for a static public page; requests are audited at the API
  #checkov:skip=CKV_AWS_174:the default *.cloudfront.net certificate; with a custom domain set TLSv1.2_2021
  #checkov:skip=CKV2_AWS_42:the default *.cloudfront.net certificate until a custom domain exists
  #checkov:skip=CKV_AWS_310:one origin: the bucket is regional and durable, a failover origin adds nothing
  #checkov:skip=CKV_AWS_374:customers may be anywhere: no geo restriction
  enabled             = true
  comment             = "${var.name} web page"
  default_root_object = "index.html"
  price_class         = var.price_class
  http_version        = "http2and3"

  origin {
    origin_id                = "page"
    domain_name              = aws_s3_bucket.page.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.page.id
  }

  default_cache_behavior {
    target_origin_id           = "page"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.optimized.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.page.id
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }
}

data "aws_iam_policy_document" "page" {
  statement {
    sid       = "CloudFrontReadsThePage"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.page.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.page.arn]
    }
  }

  statement {
    sid       = "HttpsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.page.arn, "${aws_s3_bucket.page.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "page" {
  bucket     = aws_s3_bucket.page.id
  policy     = data.aws_iam_policy_document.page.json
  depends_on = [aws_s3_bucket_public_access_block.page]
}
