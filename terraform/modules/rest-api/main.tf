# The REST API as one OpenAPI document with API Gateway's extensions: the routes (Lambda proxy),
# the TOKEN authorizer, CORS preflight and 405 answers (mock integrations), and problem+json
# gateway responses. See README.md for why a document rather than resource-per-method.

data "aws_partition" "current" {}

module "openapi" {
  source = "./openapi"

  name                         = var.name
  routes                       = [for r in var.routes : { method = r.method, path = r.path, invoke_arn = r.invoke_arn }]
  authorizer_invoke_arn        = var.authorizer.invoke_arn
  authorizer_cache_ttl_seconds = var.authorizer.cache_ttl_seconds
  cors_allowed_origins         = var.cors_allowed_origins
}

resource "aws_api_gateway_rest_api" "this" {
  name              = var.name
  body              = module.openapi.document
  put_rest_api_mode = "overwrite"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lambda_permission" "route" {
  for_each = { for r in var.routes : "${r.method} ${r.path}" => r }

  statement_id  = "api-${lower(each.value.method)}-${trim(replace(each.value.path, "/[^A-Za-z0-9]+/", "-"), "-")}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  qualifier     = each.value.qualifier
  principal     = "apigateway.amazonaws.com"
  # Only this method on this resource, from any stage of this API.
  source_arn = "${aws_api_gateway_rest_api.this.execution_arn}/*/${each.value.method}${replace(each.value.path, "/\\{[^}]+\\}/", "*")}"
}

resource "aws_lambda_permission" "authorizer" {
  statement_id  = "api-authorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer.function_name
  qualifier     = var.authorizer.qualifier
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/authorizers/*"
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  triggers = {
    redeployment = sha1(aws_api_gateway_rest_api.this.body)
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# The execution logs' group, made here (API Gateway would make it without retention or key).
resource "aws_cloudwatch_log_group" "execution" {
  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.stage_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:no response cache: answers are per principal, and stock and order status must be fresh
  #checkov:skip=CKV2_AWS_77:the web ACL is the edge module's, whose KnownBadInputs rule set covers Log4j; checkov cannot follow it across modules
  #checkov:skip=CKV2_AWS_51:no client certificate: callers are browsers and HTTP clients authenticated by JWT, not mTLS peers
  #checkov:skip=CKV2_AWS_4:execution logs are at ERROR (aws_api_gateway_method_settings.all); per-method metrics are off on purpose: billed, and unread by any alarm or chart
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      sourceIp           = "$context.identity.sourceIp"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      resourcePath       = "$context.resourcePath"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationLatency = "$context.integration.latency"
      principal          = "$context.authorizer.principalId"
      error              = "$context.error.message"
      xrayTraceId        = "$context.xrayTraceId"
    })
  }

  depends_on = [aws_api_gateway_account.this, aws_cloudwatch_log_group.execution]
}

# The edge's web ACL in front of the stage.
resource "aws_wafv2_web_acl_association" "stage" {
  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = var.web_acl_arn
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:no response cache: answers are per principal, and stock and order status must be fresh
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  # Per-method metrics are billed like custom metrics and no alarm or chart reads them: the
  # stage's own (ApiName, Stage) metrics, which API Gateway always publishes, are what they use.
  settings {
    metrics_enabled        = false
    logging_level          = "ERROR"
    data_trace_enabled     = false
    caching_enabled        = false
    cache_data_encrypted   = true
    throttling_rate_limit  = var.throttling_rate_limit
    throttling_burst_limit = var.throttling_burst_limit
  }
}

# API Gateway writes access and execution logs through one account-wide role.
data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cloudwatch" {
  count              = var.manage_account_settings ? 1 : 0
  name               = "${var.name}-apigateway-logs"
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume.json
}

resource "aws_iam_role_policy_attachment" "cloudwatch" {
  count      = var.manage_account_settings ? 1 : 0
  role       = aws_iam_role.cloudwatch[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count               = var.manage_account_settings ? 1 : 0
  cloudwatch_role_arn = aws_iam_role.cloudwatch[0].arn
  depends_on          = [aws_iam_role_policy_attachment.cloudwatch]
}
