# The API's edge: a WAF web ACL for the stage (the rest-api module associates it). A per-IP rate rule (one client cannot
# spend the whole stage throttle or the authorizer's bill), a body-size rule (a body over the
# API's limit never reaches Lambda, whose invoke limit would answer 502), and AWS's managed
# rules (common exploits, known bad inputs, IPs of bad reputation). Blocked requests get the
# API's problem+json 403 (its WAF_FILTERED gateway response).

resource "aws_wafv2_web_acl" "this" {
  name  = "${var.name}-api"
  scope = "REGIONAL"

  default_action {
    allow {}
  }

  # Inspect bodies up to the API's own limit (API Gateway's default is 16 KB).
  association_config {
    request_body {
      api_gateway {
        default_size_inspection_limit = "KB_64"
      }
    }
  }

  rule {
    name     = "rate-per-ip"
    priority = 10
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = var.requests_per_ip_per_5_minutes
        aggregate_key_type = "IP"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-per-ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "body-size"
    priority = 20
    action {
      block {}
    }
    statement {
      size_constraint_statement {
        comparison_operator = "GT"
        size                = var.max_body_bytes
        field_to_match {
          body {
            oversize_handling = "MATCH"
          }
        }
        text_transformation {
          priority = 0
          type     = "NONE"
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-body-size"
      sampled_requests_enabled   = true
    }
  }

  # Orders per bearer token: with self sign-up anyone may hold orders:write, and every accepted
  # order texts a carrier, so a script of sign-ups could spend the account's SMS limit. The
  # token (the Authorization header) is the key: one client cannot place more than this many
  # orders in five minutes, whatever its IP. place-order also limits orders per principal per
  # hour (ORDERS_PER_PRINCIPAL_PER_HOUR), which a new token for the same user does not reset.
  rule {
    name     = "orders-per-token"
    priority = 15
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = var.orders_per_token_per_5_minutes
        aggregate_key_type = "CUSTOM_KEYS"
        custom_key {
          header {
            name = "authorization"
            text_transformation {
              priority = 0
              type     = "NONE"
            }
          }
        }
        scope_down_statement {
          and_statement {
            statement {
              byte_match_statement {
                search_string         = "POST"
                positional_constraint = "EXACTLY"
                field_to_match {
                  method {}
                }
                text_transformation {
                  priority = 0
                  type     = "NONE"
                }
              }
            }
            # The stage is part of the path WAF sees (/<stage>/orders): the path's end is the route.
            statement {
              byte_match_statement {
                search_string         = "/orders"
                positional_constraint = "ENDS_WITH"
                field_to_match {
                  uri_path {}
                }
                text_transformation {
                  priority = 0
                  type     = "NONE"
                }
              }
            }
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-orders-per-token"
      sampled_requests_enabled   = true
    }
  }

  # AWS's managed rules. The common set's own body-size rule blocks at 8 KB; the API takes
  # 64 KiB (the body-size rule above), so that one rule only counts.
  rule {
    name     = "AWSManagedRulesCommonRuleSet"
    priority = 30
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"
        rule_action_override {
          name = "SizeRestrictions_BODY"
          action_to_use {
            count {}
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-common"
      sampled_requests_enabled   = true
    }
  }

  # Known bad inputs, Log4j's message lookups (CVE-2021-44228) among them.
  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 40
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "AWSManagedRulesAmazonIpReputationList"
    priority = 50
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAmazonIpReputationList"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-ip-reputation"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-api"
    sampled_requests_enabled   = true
  }
}

# WAF requires its log group's name to start with aws-waf-logs-. It keeps only what the ACL
# blocked or counted (allowed requests are in the API's access log), for a shorter time than
# the other logs: these are a rule's evidence, not an audit trail.
resource "aws_cloudwatch_log_group" "waf" {
  #checkov:skip=CKV_AWS_338:WAF's logs keep only blocked and counted requests, as evidence for tuning rules; the API's access log is the year-long record
  name              = "aws-waf-logs-${var.name}-api"
  retention_in_days = var.waf_log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  resource_arn            = aws_wafv2_web_acl.this.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  # A bearer token in a log is a credential anyone who reads the log could use until it expires.
  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  logging_filter {
    default_behavior = "DROP"
    filter {
      behavior    = "KEEP"
      requirement = "MEETS_ANY"
      condition {
        action_condition {
          action = "BLOCK"
        }
      }
      condition {
        action_condition {
          action = "COUNT"
        }
      }
    }
  }
}
