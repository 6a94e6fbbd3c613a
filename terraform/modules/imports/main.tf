# Bulk catalog imports: the private bucket companies upload their files to
# through presigned PUT URLs, and the queue its ObjectCreated events go to. import-catalog
# consumes the queue (crates/import-catalog); start-import presigns the uploads.

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "files" {
  #checkov:skip=CKV_AWS_144:uploads are transient (deleted after 7 days); a replica would only copy them
  #checkov:skip=CKV_AWS_18:every upload is presigned by start-import, whose calls are logged; CloudTrail data events audit the bucket
  bucket_prefix = "${var.name}-imports-"
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "files" {
  bucket                  = aws_s3_bucket.files.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "files" {
  bucket = aws_s3_bucket.files.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "files" {
  bucket = aws_s3_bucket.files.id
  rule {
    bucket_key_enabled = true
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
  }
}

# A second upload to the same URL becomes the current version; an import keeps reading the
# version it started on (import-catalog pins it), which is kept a day after it is replaced.
resource "aws_s3_bucket_versioning" "files" {
  bucket = aws_s3_bucket.files.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "files" {
  bucket = aws_s3_bucket.files.id
  rule {
    id     = "expire-imports"
    status = "Enabled"
    filter {}
    expiration {
      days = var.expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# The page uploads straight to S3 from its own origin.
resource "aws_s3_bucket_cors_configuration" "files" {
  bucket = aws_s3_bucket.files.id
  cors_rule {
    allowed_methods = ["PUT"]
    allowed_origins = var.upload_origins
    allowed_headers = ["content-type"]
    expose_headers  = ["etag"]
    max_age_seconds = 600
  }
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.files.arn, "${aws_s3_bucket.files.arn}/*"]
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

resource "aws_s3_bucket_policy" "files" {
  bucket = aws_s3_bucket.files.id
  policy = data.aws_iam_policy_document.tls_only.json
  # The public access block first: a policy never races it.
  depends_on = [aws_s3_bucket_public_access_block.files]
}

module "queue" {
  source = "../queue"

  name                     = "${var.name}-imports"
  consumer_timeout_seconds = var.consumer_timeout_seconds
  max_receive_count        = 5
  kms_key_arn              = var.kms_key_arn
}

# Only this bucket, in this account, may send to the imports queue.
data "aws_iam_policy_document" "bucket_notifies" {
  statement {
    sid       = "BucketNotifies"
    actions   = ["sqs:SendMessage"]
    resources = [module.queue.arn]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.files.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "bucket_notifies" {
  queue_url = module.queue.url
  policy    = data.aws_iam_policy_document.bucket_notifies.json
}

resource "aws_s3_bucket_notification" "files" {
  bucket = aws_s3_bucket.files.id

  queue {
    queue_arn     = module.queue.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "imports/"
  }

  # S3 checks that it may send when the notification is set.
  depends_on = [aws_sqs_queue_policy.bucket_notifies]
}
