# The REST API as one OpenAPI document with API Gateway's extensions: the routes (Lambda proxy),
# the TOKEN authorizer, CORS preflight and 405 answers (mock integrations), and problem+json
# gateway responses. See README.md for why a document rather than resource-per-method.

data "aws_partition" "current" {}

locals {
  allow_headers  = "Authorization,Content-Type,If-Match,Idempotency-Key"
  expose_headers = "ETag,Location"
  any_origin     = contains(var.cors_allowed_origins, "*")

  # The gateway's own answers (errors, preflight, 405) carry CORS like the functions' do:
  # "*" when any origin is allowed, the one origin when there is one, and otherwise the caller's
  # Origin (these are error bodies without credentials; the preflight below checks the list).
  allow_origin = local.any_origin ? "'*'" : (
    length(var.cors_allowed_origins) == 1 ? "'${var.cors_allowed_origins[0]}'" : "method.request.header.Origin"
  )

  # Preflight: answer with the caller's Origin only when it is allowed.
  preflight_template = join("", [
    "#set($origin = $input.params(\"Origin\"))",
    "#set($allowed = ${jsonencode(var.cors_allowed_origins)})",
    "#if($allowed.contains(\"*\"))#set($context.responseOverride.header.Access-Control-Allow-Origin = \"*\")",
    "#elseif($allowed.contains($origin))#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)#end",
  ])

  paths = distinct([for r in var.routes : r.path])

  methods_by_path = {
    for p in local.paths : p => sort(concat([for r in var.routes : r.method if r.path == p], ["OPTIONS"]))
  }

  path_parameters = {
    for p in local.paths : p => [
      for name in regexall("\\{([^}]+)\\}", p) : {
        name     = name[0]
        in       = "path"
        required = true
        schema   = { type = "string" }
      }
    ]
  }

  cors_response_headers = {
    "Access-Control-Allow-Origin" = { schema = { type = "string" } }
    "Vary"                        = { schema = { type = "string" } }
  }

  problem = {
    "application/json" = join("", [
      "{\"type\":\"about:blank\",\"title\":\"$context.error.responseType\",",
      "\"detail\":$context.error.messageString,\"request_id\":\"$context.requestId\"}",
    ])
  }

  # Gateway responses (the answers API Gateway gives before or instead of a function), all
  # problem+json with CORS, typed and titled as the functions' own (domain::Error's table).
  # MISSING_AUTHENTICATION_TOKEN is what REST APIs answer for a path that matches no resource:
  # here it is the 404 the API promises.
  gateway_responses = {
    UNAUTHORIZED                   = { status = 401, type = "unauthorized", title = "Unauthorized" }
    EXPIRED_TOKEN                  = { status = 401, type = "unauthorized", title = "Unauthorized" }
    INVALID_SIGNATURE              = { status = 401, type = "unauthorized", title = "Unauthorized" }
    ACCESS_DENIED                  = { status = 403, type = "forbidden", title = "Forbidden" }
    MISSING_AUTHENTICATION_TOKEN   = { status = 404, type = "not-found", title = "Not found" }
    RESOURCE_NOT_FOUND             = { status = 404, type = "not-found", title = "Not found" }
    REQUEST_TOO_LARGE              = { status = 413, type = "payload-too-large", title = "Payload too large" }
    UNSUPPORTED_MEDIA_TYPE         = { status = 415, type = "unsupported-media-type", title = "Unsupported media type" }
    BAD_REQUEST_BODY               = { status = 400, type = "validation-error", title = "Invalid request" }
    BAD_REQUEST_PARAMETERS         = { status = 400, type = "validation-error", title = "Invalid request" }
    THROTTLED                      = { status = 429, type = "throttled", title = "Too many requests" }
    QUOTA_EXCEEDED                 = { status = 429, type = "throttled", title = "Too many requests" }
    AUTHORIZER_FAILURE             = { status = 500, type = "internal", title = "Internal server error" }
    AUTHORIZER_CONFIGURATION_ERROR = { status = 500, type = "internal", title = "Internal server error" }
    INTEGRATION_FAILURE            = { status = 502, type = "bad-gateway", title = "Bad gateway" }
    INTEGRATION_TIMEOUT            = { status = 504, type = "gateway-timeout", title = "Gateway timeout" }
  }

  gateway_response_parameters = {
    "gatewayresponse.header.Access-Control-Allow-Origin"   = local.allow_origin
    "gatewayresponse.header.Access-Control-Expose-Headers" = "'${local.expose_headers}'"
    "gatewayresponse.header.Vary"                          = "'Origin'"
    "gatewayresponse.header.Content-Type"                  = "'application/problem+json'"
  }

  openapi = {
    openapi = "3.0.1"
    info    = { title = var.name, version = "1" }

    paths = {
      for p in local.paths : p => merge(
        {
          for r in var.routes : lower(r.method) => {
            security   = [{ jwt = [] }]
            parameters = local.path_parameters[p]
            responses  = { default = { description = "The function's answer" } }
            "x-amazon-apigateway-integration" = {
              type                = "aws_proxy"
              httpMethod          = "POST"
              uri                 = r.invoke_arn
              passthroughBehavior = "when_no_match"
              timeoutInMillis     = 29000
            }
          } if r.path == p
        },
        {
          options = {
            parameters = local.path_parameters[p]
            responses = {
              "204" = {
                description = "CORS preflight"
                headers = merge(local.cors_response_headers, {
                  "Access-Control-Allow-Methods" = { schema = { type = "string" } }
                  "Access-Control-Allow-Headers" = { schema = { type = "string" } }
                  "Access-Control-Max-Age"       = { schema = { type = "string" } }
                })
              }
            }
            "x-amazon-apigateway-integration" = {
              type                = "mock"
              passthroughBehavior = "never"
              requestTemplates    = { "application/json" = "{\"statusCode\": 204}" }
              responses = {
                default = {
                  statusCode = "204"
                  responseParameters = {
                    "method.response.header.Access-Control-Allow-Methods" = "'${join(",", local.methods_by_path[p])}'"
                    "method.response.header.Access-Control-Allow-Headers" = "'${local.allow_headers}'"
                    "method.response.header.Access-Control-Max-Age"       = "'600'"
                    "method.response.header.Vary"                         = "'Origin'"
                  }
                  responseTemplates = { "application/json" = local.preflight_template }
                }
              }
            }
          }
          # Explicit methods take precedence over ANY, so ANY answers only the wrong methods.
          "x-amazon-apigateway-any-method" = {
            parameters = local.path_parameters[p]
            responses = {
              "405" = {
                description = "Method Not Allowed"
                headers = merge(local.cors_response_headers, {
                  "Allow"        = { schema = { type = "string" } }
                  "Content-Type" = { schema = { type = "string" } }
                })
              }
            }
            "x-amazon-apigateway-integration" = {
              type                = "mock"
              passthroughBehavior = "never"
              requestTemplates    = { "application/json" = "{\"statusCode\": 405}" }
              responses = {
                default = {
                  statusCode = "405"
                  responseParameters = {
                    "method.response.header.Allow"                       = "'${join(",", local.methods_by_path[p])}'"
                    "method.response.header.Content-Type"                = "'application/problem+json'"
                    "method.response.header.Access-Control-Allow-Origin" = local.allow_origin
                    "method.response.header.Vary"                        = "'Origin'"
                  }
                  responseTemplates = {
                    "application/json" = jsonencode({
                      type   = "/problems/method-not-allowed"
                      title  = "Method not allowed"
                      status = 405
                      detail = "${p} allows ${join(", ", local.methods_by_path[p])}"
                    })
                  }
                }
              }
            }
          }
        }
      )
    }

    components = {
      securitySchemes = {
        jwt = {
          type                           = "apiKey"
          name                           = "Authorization"
          in                             = "header"
          "x-amazon-apigateway-authtype" = "custom"
          "x-amazon-apigateway-authorizer" = {
            type                         = "token"
            authorizerUri                = var.authorizer.invoke_arn
            authorizerResultTtlInSeconds = var.authorizer.cache_ttl_seconds
            identityValidationExpression = "^Bearer [-0-9A-Za-z._~+/]+=*$"
          }
        }
      }
    }

    "x-amazon-apigateway-gateway-responses" = merge(
      {
        for type, r in local.gateway_responses : type => {
          statusCode = tostring(r.status)
          responseParameters = merge(
            local.gateway_response_parameters,
            r.status == 401 ? { "gatewayresponse.header.WWW-Authenticate" = "'Bearer'" } : {},
          )
          responseTemplates = {
            "application/json" = join("", [
              "{\"type\":\"/problems/${r.type}\",\"title\":\"${r.title}\",\"status\":${r.status},",
              "\"detail\":$context.error.messageString,\"request_id\":\"$context.requestId\"}",
            ])
          }
        }
      },
      {
        # Anything not listed above keeps its own status code.
        DEFAULT_4XX = { responseParameters = local.gateway_response_parameters, responseTemplates = local.problem }
        DEFAULT_5XX = { responseParameters = local.gateway_response_parameters, responseTemplates = local.problem }
      }
    )
  }
}

resource "aws_api_gateway_rest_api" "this" {
  name              = var.name
  body              = jsonencode(local.openapi)
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
  principal     = "apigateway.amazonaws.com"
  # Only this method on this resource, from any stage of this API.
  source_arn = "${aws_api_gateway_rest_api.this.execution_arn}/*/${each.value.method}${replace(each.value.path, "/\\{[^}]+\\}/", "*")}"
}

resource "aws_lambda_permission" "authorizer" {
  statement_id  = "api-authorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer.function_name
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

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:no response cache: answers are per principal, and stock and order status must be fresh
  #checkov:skip=CKV2_AWS_29:no WAF: clients authenticate with JWTs and the stage is throttled; add a web ACL when the budget allows
  #checkov:skip=CKV2_AWS_51:no client certificate: callers are browsers and HTTP clients authenticated by JWT, not mTLS peers
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

  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:no response cache: answers are per principal, and stock and order status must be fresh
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
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
