# Each role's permissions, in four managed policies (one inline policy could not hold them: IAM
# allows 10,240 characters for all of a role's inline policies, 6,144 for one managed policy).
#
# A deploy role (dev, prod) may do anything to what is its own; prod-plan may only read it
# (Get*, Describe*, List*) and take the state's lock.

locals {
  read_verbs = ["Get*", "Describe*", "List*"]

  # The actions of a role on a service: all of them, or the reading ones.
  verbs = { for role, r in local.roles : role => r.writes ? ["*"] : local.read_verbs }

  # IAM is named too, but never "iam:*": a deploy role may shape its environment's roles and
  # hand them only to the services that run them.
  iam_write = [
    "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole",
    "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
  ]
  iam_read = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:ListRoleTags"]
}

data "aws_iam_policy_document" "named" {
  for_each = local.roles

  dynamic "statement" {
    for_each = local.named[each.value.env]
    content {
      sid       = "Named${replace(title(statement.key), "-", "")}"
      actions   = [for v in local.verbs[each.key] : "${statement.key}:${v}"]
      resources = concat(statement.value, statement.key == "s3" ? ["${statement.value[0]}/*"] : [], statement.key == "lambda" ? ["${statement.value[0]}:*"] : [], statement.key == "logs" ? [for g in statement.value : "${g}:*"] : [])
    }
  }

  statement {
    sid       = "NamedRoles"
    actions   = each.value.writes ? concat(local.iam_write, local.iam_read) : local.iam_read
    resources = ["${local.arn}:iam::${local.account}:role/${each.value.prefix}-*"]
  }

  # A function's, CodeDeploy's, API Gateway's, SNS's, the flow logs' and the reconciler's
  # schedule's roles are handed to those services only.
  dynamic "statement" {
    for_each = each.value.writes ? [1] : []
    content {
      sid       = "PassRolesToTheirServices"
      actions   = ["iam:PassRole"]
      resources = ["${local.arn}:iam::${local.account}:role/${each.value.prefix}-*"]
      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["lambda.amazonaws.com", "codedeploy.amazonaws.com", "apigateway.amazonaws.com", "sns.amazonaws.com", "vpc-flow-logs.amazonaws.com", "scheduler.amazonaws.com"]
      }
    }
  }

  statement {
    sid       = "KeyAlias"
    actions   = [for v in local.verbs[each.key] : "kms:${v}"]
    resources = ["${local.arn}:kms:${local.region}:${local.account}:alias/${each.value.prefix}"]
  }
}

data "aws_iam_policy_document" "tagged" {
  for_each = local.roles

  dynamic "statement" {
    for_each = local.tagged
    content {
      sid       = "Tagged${replace(title(statement.value), "-", "")}"
      actions   = [for v in local.verbs[each.key] : "${statement.value}:${v}"]
      resources = local.tagged_resources[statement.value]
      condition {
        test     = "StringEquals"
        variable = "aws:ResourceTag/environment"
        values   = [each.value.env]
      }
    }
  }

  # Creating one: only with the environment's tag (the provider's default_tags put it there).
  dynamic "statement" {
    for_each = each.value.writes ? [1] : []
    content {
      sid = "CreateTagged"
      actions = [
        "apigateway:POST", "cognito-idp:CreateUserPool", "cloudfront:CreateDistribution", "cloudfront:CreateDistributionWithTags", "cloudfront:TagResource",
        "kms:CreateKey", "kms:TagResource", "ec2:CreateVpc", "ec2:CreateSubnet", "ec2:CreateSecurityGroup", "ec2:CreateRouteTable",
        "ec2:CreateVpcEndpoint", "ec2:CreateFlowLogs", "ec2:CreateTags",
        "application-autoscaling:RegisterScalableTarget", "application-autoscaling:TagResource",
      ]
      # These create calls take no resource of their own yet: the tag in the request is the bound.
      resources = ["*"]
      condition {
        test     = "StringEquals"
        variable = "aws:RequestTag/environment"
        values   = [each.value.env]
      }
    }
  }
}

# Actions that take no resource, each with its reason.
data "aws_iam_policy_document" "account" {
  for_each = local.roles
  #checkov:skip=CKV_AWS_356:every "*" here is an action AWS offers no resource for; each statement says why
  #checkov:skip=CKV_AWS_111:every "*" here is an action AWS offers no resource for; each statement says why
  #checkov:skip=CKV_AWS_109:kms:CreateKey's key has no ARN before it exists; the CreateTagged statement binds it to the tag

  statement {
    # EC2's Describe calls (the VPC, subnets, zones) support no resource-level permissions.
    sid       = "DescribeNetwork"
    actions   = ["ec2:Describe*"]
    resources = ["*"]
  }

  statement {
    # Listing log groups, and the account's CloudFront cache policies, names no resource.
    sid       = "ListAccountWide"
    actions   = ["logs:DescribeLogGroups", "cloudfront:ListCachePolicies", "cloudfront:GetCachePolicy", "wafv2:CheckCapacity", "wafv2:ListAvailableManagedRuleGroups", "cognito-idp:DescribeUserPoolDomain", "iam:GetPolicy", "iam:GetPolicyVersion", "kms:ListAliases"]
    resources = ["*"]
  }

  statement {
    # An event source mapping's ARN is a generated UUID: bound to the environment's functions
    # by the function it maps to.
    sid       = "EventSourceMappings"
    actions   = concat(["lambda:GetEventSourceMapping", "lambda:ListEventSourceMappings"], each.value.writes ? ["lambda:CreateEventSourceMapping", "lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping"] : [])
    resources = ["*"]
    condition {
      test     = "ArnLike"
      variable = "lambda:FunctionArn"
      values   = ["${local.arn}:lambda:${local.region}:${local.account}:function:${each.value.prefix}-*"]
    }
  }

  statement {
    # WAF's logging to CloudWatch Logs sets up a log delivery and the log group's resource
    # policy: CloudWatch Logs' delivery actions name no resource.
    sid       = "WafLogDelivery"
    actions   = each.value.writes ? ["logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies"] : ["logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:DescribeResourcePolicies"]
    resources = ["*"]
  }

  statement {
    # A sale's scheduled provisioned concurrency: Application Auto Scaling's Describe calls name
    # no resource, and its first scalable target of a Lambda function makes the service-linked
    # role it scales with.
    sid       = "SaleScaling"
    actions   = ["application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScheduledActions", "application-autoscaling:DescribeScalingActivities"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = each.value.writes ? [1] : []
    content {
      sid       = "SaleScalingRole"
      actions   = ["iam:CreateServiceLinkedRole"]
      resources = ["${local.arn}:iam::${local.account}:role/aws-service-role/lambda.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency"]
      condition {
        test     = "StringEquals"
        variable = "iam:AWSServiceName"
        values   = ["lambda.application-autoscaling.amazonaws.com"]
      }
    }
  }

  statement {
    # scripts/preflight's reads of the account's limits: account-wide, they name no resource.
    sid       = "Preflight"
    actions   = ["sms-voice:DescribeSpendLimits", "sms-voice:DescribePhoneNumbers", "sns:GetSMSSandboxAccountStatus", "sns:ListSMSSandboxPhoneNumbers", "lambda:GetAccountSettings"]
    resources = ["*"]
  }

  statement {
    # CodeDeploy's built-in deployment configurations (the canary's) belong to no one.
    sid       = "DeploymentConfigs"
    actions   = ["codedeploy:GetDeploymentConfig", "codedeploy:ListDeploymentConfigs"]
    resources = ["${local.arn}:codedeploy:${local.region}:${local.account}:deploymentconfig:*"]
  }

  statement {
    # CloudFront's origin access controls and response headers policies take no tags: their
    # ARNs are generated ids.
    sid       = "CloudFrontPolicies"
    actions   = each.value.writes ? ["cloudfront:*OriginAccessControl*", "cloudfront:*ResponseHeadersPolicy*"] : ["cloudfront:GetOriginAccessControl*", "cloudfront:ListOriginAccessControls", "cloudfront:GetResponseHeadersPolicy*", "cloudfront:ListResponseHeadersPolicies"]
    resources = ["${local.arn}:cloudfront::${local.account}:origin-access-control/*", "${local.arn}:cloudfront::${local.account}:response-headers-policy/*"]
  }

  statement {
    # The account's SMS preferences and API Gateway's logging role are account-wide settings,
    # managed by the one environment that owns them (manage_account_settings).
    sid       = "AccountSettings"
    actions   = each.value.writes ? ["sns:SetSMSAttributes", "sns:GetSMSAttributes", "apigateway:GET", "apigateway:PATCH"] : ["sns:GetSMSAttributes", "apigateway:GET"]
    resources = ["*"]
  }

  statement {
    # The functions' environment variables are encrypted with the environment's key: reading
    # a function's settings (a plan's refresh) decrypts them.
    sid       = "DecryptOwnSettings"
    actions   = ["kms:Decrypt"]
    resources = ["${local.arn}:kms:${local.region}:${local.account}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/environment"
      values   = [each.value.env]
    }
  }
}

# The state: its own object and lock; prod's plan waits in plans/prod/ for its approval.
data "aws_iam_policy_document" "state" {
  for_each = local.roles

  statement {
    sid       = "ListState"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.state.arn]
  }

  statement {
    sid       = "ReadState"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.state.arn}/delivery/${each.value.env}.tfstate", "${aws_s3_bucket.state.arn}/delivery/${each.value.env}.tfstate.tflock"]
  }

  statement {
    # S3's own lock file (use_lockfile): written and deleted around every plan and apply.
    sid = "LockState"
    # prod-plan takes the lock only: it never writes the state itself.
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = concat(["${aws_s3_bucket.state.arn}/delivery/${each.value.env}.tfstate.tflock"], each.value.writes ? ["${aws_s3_bucket.state.arn}/delivery/${each.value.env}.tfstate"] : [])
  }

  dynamic "statement" {
    for_each = each.value.env == "prod" ? [1] : []
    content {
      sid       = "ProdPlans"
      actions   = each.value.writes ? ["s3:GetObject", "s3:DeleteObject"] : ["s3:PutObject"]
      resources = ["${aws_s3_bucket.state.arn}/plans/prod/*"]
    }
  }

  statement {
    sid       = "StateKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.state.arn]
  }
}

locals {
  documents = {
    named   = data.aws_iam_policy_document.named
    tagged  = data.aws_iam_policy_document.tagged
    account = data.aws_iam_policy_document.account
    state   = data.aws_iam_policy_document.state
  }
  attachments = merge([
    for role in keys(local.roles) : {
      for part, docs in local.documents : "${role}/${part}" => { role = role, part = part, json = docs[role].json }
    }
  ]...)
}

resource "aws_iam_policy" "deploy" {
  for_each    = local.attachments
  name        = "delivery-github-${each.value.role}-${each.value.part}"
  description = "GitHub Actions, environment ${each.value.role}: ${each.value.part} resources"
  policy      = each.value.json
}

resource "aws_iam_role_policy_attachment" "deploy" {
  for_each   = local.attachments
  role       = aws_iam_role.deploy[each.value.role].name
  policy_arn = aws_iam_policy.deploy[each.key].arn
}
