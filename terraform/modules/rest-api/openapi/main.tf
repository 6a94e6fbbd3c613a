# The API as one OpenAPI 3 document with API Gateway's extensions, built from the route list:
# a pure module (no provider, no resource), so `terraform test` can check the document offline.

locals {
  allow_headers  = "Authorization,Content-Type,If-Match,Idempotency-Key"
  expose_headers = "ETag,Location"
  any_origin     = contains(var.cors_allowed_origins, "*")

  # The gateway's own answers (errors, 405) carry CORS: "*" when any origin is allowed, else the
  # first configured origin (the web page's). A gateway response cannot choose among origins,
  # and it never echoes the caller's Origin, which would grant any site. (The preflight below
  # does choose: it answers an allowed Origin with itself.)
  allow_origin = local.any_origin ? "'*'" : "'${var.cors_allowed_origins[0]}'"

  # Preflight: answer with the caller's Origin only when it is allowed.
  preflight_template = join("", [
    "#set($origin = $input.params(\"Origin\"))",
    "#set($allowed = ${jsonencode(var.cors_allowed_origins)})",
    "#if($allowed.contains(\"*\"))#set($context.responseOverride.header.Access-Control-Allow-Origin = \"*\")",
    "#elseif($allowed.contains($origin))#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)#end",
  ])

  paths = distinct([for r in var.routes : r.path])

  # A mock integration answers only the content types it has a template for (the others get
  # 415): the usual ones, so a wrong method with any of them is still the 405 it should be.
  mock_content_types = [
    "application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
    "application/xml", "text/xml", "application/octet-stream",
  ]

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
    INVALID_API_KEY                = { status = 403, type = "forbidden", title = "Forbidden" }
    WAF_FILTERED                   = { status = 403, type = "forbidden", title = "Forbidden" }
    API_CONFIGURATION_ERROR        = { status = 500, type = "internal", title = "Internal server error" }
    # Anything else: a problem of its class (API Gateway has no other response types today).
    DEFAULT_4XX = { status = 400, type = "bad-request", title = "Bad request" }
    DEFAULT_5XX = { status = 500, type = "internal", title = "Internal server error" }
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
              requestTemplates    = { for t in local.mock_content_types : t => "{\"statusCode\": 204}" }
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
              requestTemplates    = { for t in local.mock_content_types : t => "{\"statusCode\": 405}" }
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
            authorizerUri                = var.authorizer_invoke_arn
            authorizerResultTtlInSeconds = var.authorizer_cache_ttl_seconds
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
    )
  }
}
