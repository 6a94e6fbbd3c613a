# The OpenAPI document the REST API is built from, checked offline (`terraform test`).

variables {
  name = "delivery-test"
  routes = [
    { method = "GET", path = "/products", invoke_arn = "arn:list" },
    { method = "GET", path = "/products/{id}", invoke_arn = "arn:list" },
    { method = "PUT", path = "/products/{id}", invoke_arn = "arn:update" },
    { method = "PATCH", path = "/products/{id}", invoke_arn = "arn:update" },
    { method = "POST", path = "/orders", invoke_arn = "arn:place" },
  ]
  authorizer_invoke_arn        = "arn:authorizer"
  authorizer_cache_ttl_seconds = 300
  cors_allowed_origins         = ["https://shop.example.com", "https://d111.cloudfront.net"]
}

run "every_route_is_a_proxy_integration_behind_the_authorizer" {
  command = apply

  assert {
    condition = alltrue([
      for r in var.routes :
      jsondecode(output.document).paths[r.path][lower(r.method)]["x-amazon-apigateway-integration"].uri == r.invoke_arn &&
      jsondecode(output.document).paths[r.path][lower(r.method)]["x-amazon-apigateway-integration"].type == "aws_proxy" &&
      jsondecode(output.document).paths[r.path][lower(r.method)].security == [{ jwt = [] }]
    ])
    error_message = "Every route must be an aws_proxy integration of its function, behind the jwt authorizer."
  }

  assert {
    condition     = jsondecode(output.document).components.securitySchemes.jwt["x-amazon-apigateway-authorizer"].authorizerResultTtlInSeconds == 300
    error_message = "The authorizer's policy must be cached for the configured TTL."
  }
}

run "every_path_answers_preflight_and_405" {
  command = apply

  assert {
    condition = alltrue([
      for path, methods in jsondecode(output.document).paths :
      methods.options["x-amazon-apigateway-integration"].type == "mock" &&
      methods["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"].responses.default.statusCode == "405"
    ])
    error_message = "Every path needs an OPTIONS preflight and an ANY that answers 405."
  }

  assert {
    condition = alltrue([
      for t in ["application/json", "text/plain", "application/x-www-form-urlencoded"] :
      jsondecode(output.document).paths["/orders"]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"].requestTemplates[t] == "{\"statusCode\": 405}"
    ])
    error_message = "A wrong method is a 405 whatever the body's content type."
  }

  assert {
    condition     = jsondecode(output.document).paths["/products/{id}"]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"].responses.default.responseParameters["method.response.header.Allow"] == "'GET,OPTIONS,PATCH,PUT'"
    error_message = "A 405 must name the path's methods in Allow."
  }

  assert {
    condition     = strcontains(jsondecode(output.document).paths["/orders"].options["x-amazon-apigateway-integration"].responses.default.responseTemplates["application/json"], "\"https://d111.cloudfront.net\"")
    error_message = "The preflight must echo only the allowed origins."
  }

  assert {
    condition = alltrue([
      for path, methods in jsondecode(output.document).paths :
      length(regexall("\\{", path)) == 0 || length(methods.options.parameters) == length(regexall("\\{", path))
    ])
    error_message = "Every path parameter must be declared."
  }
}

run "gateway_answers_are_problems_with_cors" {
  command = apply

  assert {
    condition     = jsondecode(output.document)["x-amazon-apigateway-gateway-responses"].MISSING_AUTHENTICATION_TOKEN.statusCode == "404"
    error_message = "A path that matches no resource must be a 404."
  }

  assert {
    condition = alltrue([
      for type, r in jsondecode(output.document)["x-amazon-apigateway-gateway-responses"] :
      r.responseParameters["gatewayresponse.header.Content-Type"] == "'application/problem+json'" &&
      contains(keys(r.responseParameters), "gatewayresponse.header.Access-Control-Allow-Origin")
    ])
    error_message = "Every gateway response must be problem+json with CORS."
  }

  assert {
    condition = alltrue([
      for type, r in jsondecode(output.document)["x-amazon-apigateway-gateway-responses"] :
      alltrue([for field in ["\"type\":", "\"title\":", "\"status\":", "\"detail\":"] : strcontains(r.responseTemplates["application/json"], field)])
      && can(tonumber(r.statusCode))
    ])
    error_message = "Every gateway response, DEFAULT_4XX and DEFAULT_5XX included, must be a full problem (type, title, status, detail) with its status."
  }

  assert {
    condition = alltrue([
      for type, r in jsondecode(output.document)["x-amazon-apigateway-gateway-responses"] :
      r.responseParameters["gatewayresponse.header.Access-Control-Allow-Origin"] == "'https://shop.example.com'"
    ])
    error_message = "A gateway response grants only a configured origin, never the caller's Origin."
  }

  assert {
    condition     = jsondecode(output.document)["x-amazon-apigateway-gateway-responses"].UNAUTHORIZED.responseParameters["gatewayresponse.header.WWW-Authenticate"] == "'Bearer'"
    error_message = "A 401 must say Bearer."
  }
}

run "every_method_is_validated_at_the_gateway" {
  command = apply

  assert {
    condition = alltrue([
      for r in var.routes :
      jsondecode(output.document).paths[r.path][lower(r.method)]["x-amazon-apigateway-request-validator"] == "body-and-parameters"
    ])
    error_message = "Every route's method must name the request validator."
  }

  assert {
    condition = (
      jsondecode(output.document)["x-amazon-apigateway-request-validators"]["body-and-parameters"].validateRequestBody &&
      jsondecode(output.document)["x-amazon-apigateway-request-validators"]["body-and-parameters"].validateRequestParameters
    )
    error_message = "The validator must check bodies and parameters."
  }

  assert {
    condition = alltrue([
      for r in var.routes :
      contains(["PUT", "PATCH", "POST"], r.method) == can(jsondecode(output.document).paths[r.path][lower(r.method)].requestBody.content["application/json"].schema["$ref"])
    ])
    error_message = "Every method with a body must have the API document's model for it, and no other."
  }

  assert {
    condition = alltrue([
      for name in ["ProductInput", "ProductPatch", "Price", "OrderRequest", "Delivery", "BasketLine"] :
      can(jsondecode(output.document).components.schemas[name])
    ])
    error_message = "The body models come from the API's document."
  }

  assert {
    condition     = jsondecode(output.document).components.schemas.ProductInput.additionalProperties == false
    error_message = "A body with an unknown field must be refused at the gateway."
  }

  assert {
    condition = alltrue([
      for p in [jsondecode(output.document).paths["/products"].get.parameters] :
      length([for param in p : param if param.in == "query"]) == 3
    ])
    error_message = "The listing's query parameters come from the API's document."
  }

  assert {
    condition     = strcontains(jsondecode(output.document)["x-amazon-apigateway-gateway-responses"].BAD_REQUEST_BODY.responseTemplates["application/json"], "\"errors\":[{\"field\":\"body\"")
    error_message = "A body refused by the validator must be a problem naming the body."
  }
}
