# Bootstrap: what must exist before the first deploy, made once per account by an
# administrator. The state bucket, the GitHub OIDC provider, and three roles: `dev` and `prod`
# deploy their environment, `prod-plan` only reads (it plans prod for a reviewer). Each is
# trusted by one GitHub environment of one repository, and may touch only the resources of its
# own environment: named with its prefix, or, where AWS generates the ARN, tagged with it.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  bucket = coalesce(var.state_bucket_name, "delivery-tfstate-${local.account}-${local.region}")
  oidc   = var.existing_oidc_provider_arn != "" ? var.existing_oidc_provider_arn : aws_iam_openid_connect_provider.github[0].arn

  # The GitHub environment of each role, and the environment whose resources it acts on.
  roles = merge(
    { for env, e in var.environments : env => { env = env, prefix = e.prefix, writes = true } },
    { prod-plan = { env = "prod", prefix = var.environments["prod"].prefix, writes = false } },
  )
}

# --- The state bucket --------------------------------------------------------------------

resource "aws_kms_key" "state" {
  description             = "Terraform state of the delivery environments"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.state_key.json
}

resource "aws_kms_alias" "state" {
  name          = "alias/delivery-tfstate"
  target_key_id = aws_kms_key.state.key_id
}

data "aws_iam_policy_document" "state_key" {
  #checkov:skip=CKV_AWS_109:a key policy's resource "*" is the key itself; the account root must administer it
  #checkov:skip=CKV_AWS_111:a key policy's resource "*" is the key itself; the account root must administer it
  #checkov:skip=CKV_AWS_356:a key policy's resource "*" is the key itself
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["${local.arn}:iam::${local.account}:root"]
    }
  }
}

resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_144:one region's state: a replica would need a second region's key and bucket, and versions already keep every past state
  #checkov:skip=CKV_AWS_18:the state's readers are three roles and an administrator; CloudTrail's data events are the place to audit them, not a second bucket
  #checkov:skip=CKV2_AWS_62:nothing reacts to a state change
  bucket = local.bucket
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.state.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# Old states are kept 90 days; a prod plan waiting for its approval (plans/) one day: a plan
# holds the state, secrets included, and is never a workflow artifact.
resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    id     = "old-states"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "plans"
    status = "Enabled"
    filter {
      prefix = "plans/"
    }
    expiration {
      days = 1
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }
}

data "aws_iam_policy_document" "state_bucket" {
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
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

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state_bucket.json
}

# --- GitHub's OIDC provider and the roles it may assume ----------------------------------------

resource "aws_iam_openid_connect_provider" "github" {
  count          = var.existing_oidc_provider_arn == "" ? 1 : 0
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "trust" {
  for_each = local.roles

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    # Only a job of this repository running in this GitHub environment (whose protection
    # rules, such as prod's reviewers, have passed).
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${each.key}"]
    }
  }
}

resource "aws_iam_role" "deploy" {
  for_each             = local.roles
  name                 = "delivery-github-${each.key}"
  description          = "GitHub Actions, environment ${each.key}: ${each.value.writes ? "deploys" : "plans (read only)"} ${each.value.prefix}"
  assume_role_policy   = data.aws_iam_policy_document.trust[each.key].json
  max_session_duration = 3600
}
