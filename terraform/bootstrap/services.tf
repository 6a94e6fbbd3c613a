# What the deploy roles may do, derived from the modules: every resource type the modules
# manage, by the IAM service that manages it. The wiring check (crates/wiring-check) fails when a
# module uses a type missing here, or a service here has no statement below: a new resource type
# cannot be forgotten until the first apply is refused.

locals {
  managed_resource_types = {
    aws_api_gateway_account                            = "apigateway"
    aws_appautoscaling_scheduled_action                = "application-autoscaling"
    aws_appautoscaling_target                          = "application-autoscaling"
    aws_api_gateway_deployment                         = "apigateway"
    aws_api_gateway_method_settings                    = "apigateway"
    aws_api_gateway_rest_api                           = "apigateway"
    aws_api_gateway_stage                              = "apigateway"
    aws_cloudfront_distribution                        = "cloudfront"
    aws_cloudfront_origin_access_control               = "cloudfront"
    aws_cloudfront_response_headers_policy             = "cloudfront"
    aws_cloudwatch_dashboard                           = "cloudwatch"
    aws_cloudwatch_log_group                           = "logs"
    aws_cloudwatch_metric_alarm                        = "cloudwatch"
    aws_codedeploy_app                                 = "codedeploy"
    aws_codedeploy_deployment_group                    = "codedeploy"
    aws_cognito_resource_server                        = "cognito-idp"
    aws_cognito_user_group                             = "cognito-idp"
    aws_cognito_user_pool                              = "cognito-idp"
    aws_cognito_user_pool_client                       = "cognito-idp"
    aws_cognito_user_pool_domain                       = "cognito-idp"
    aws_default_security_group                         = "ec2"
    aws_dynamodb_table                                 = "dynamodb"
    aws_dynamodb_table_item                            = "dynamodb"
    aws_flow_log                                       = "ec2"
    aws_iam_role                                       = "iam"
    aws_iam_role_policy                                = "iam"
    aws_iam_role_policy_attachment                     = "iam"
    aws_kms_alias                                      = "kms"
    aws_kms_key                                        = "kms"
    aws_lambda_alias                                   = "lambda"
    aws_lambda_event_source_mapping                    = "lambda"
    aws_lambda_function                                = "lambda"
    aws_lambda_function_event_invoke_config            = "lambda"
    aws_lambda_permission                              = "lambda"
    aws_route_table                                    = "ec2"
    aws_route_table_association                        = "ec2"
    aws_s3_bucket                                      = "s3"
    aws_s3_bucket_cors_configuration                   = "s3"
    aws_s3_bucket_lifecycle_configuration              = "s3"
    aws_s3_bucket_notification                         = "s3"
    aws_s3_bucket_ownership_controls                   = "s3"
    aws_s3_bucket_policy                               = "s3"
    aws_s3_bucket_public_access_block                  = "s3"
    aws_s3_bucket_server_side_encryption_configuration = "s3"
    aws_s3_bucket_versioning                           = "s3"
    aws_scheduler_schedule                             = "scheduler"
    aws_security_group                                 = "ec2"
    aws_sns_sms_preferences                            = "sns"
    aws_sns_topic                                      = "sns"
    aws_sns_topic_subscription                         = "sns"
    aws_sqs_queue                                      = "sqs"
    aws_sqs_queue_policy                               = "sqs"
    aws_sqs_queue_redrive_allow_policy                 = "sqs"
    aws_subnet                                         = "ec2"
    aws_vpc                                            = "ec2"
    aws_vpc_endpoint                                   = "ec2"
    aws_vpc_security_group_egress_rule                 = "ec2"
    aws_vpc_security_group_ingress_rule                = "ec2"
    aws_wafv2_web_acl                                  = "wafv2"
    aws_wafv2_web_acl_association                      = "wafv2"
    aws_wafv2_web_acl_logging_configuration            = "wafv2"
  }

  services = toset(values(local.managed_resource_types))

  arn     = "arn:${data.aws_partition.current.partition}"
  account = data.aws_caller_identity.current.account_id
  region  = var.region

  # Services whose resources carry the name prefix in their ARN: the deploy role may do
  # anything to those, and nothing to others.
  named = {
    for env, e in var.environments : env => {
      dynamodb   = ["${local.arn}:dynamodb:${local.region}:${local.account}:table/${e.prefix}-*"]
      sqs        = ["${local.arn}:sqs:${local.region}:${local.account}:${e.prefix}-*"]
      sns        = ["${local.arn}:sns:${local.region}:${local.account}:${e.prefix}-*"]
      lambda     = ["${local.arn}:lambda:${local.region}:${local.account}:function:${e.prefix}-*"]
      scheduler  = ["${local.arn}:scheduler:${local.region}:${local.account}:schedule/default/${e.prefix}-*"]
      s3         = ["${local.arn}:s3:::${e.prefix}-*"]
      codedeploy = ["${local.arn}:codedeploy:${local.region}:${local.account}:application:${e.prefix}-*", "${local.arn}:codedeploy:${local.region}:${local.account}:deploymentgroup:${e.prefix}-*"]
      cloudwatch = ["${local.arn}:cloudwatch:${local.region}:${local.account}:alarm:${e.prefix}-*", "${local.arn}:cloudwatch::${local.account}:dashboard/${e.prefix}"]
      wafv2      = ["${local.arn}:wafv2:${local.region}:${local.account}:regional/webacl/${e.prefix}-*/*", "${local.arn}:wafv2:${local.region}:${local.account}:regional/managedruleset/*/*"]
      logs = [for group in [
        "/aws/lambda/${e.prefix}-*",
        "/aws/apigateway/${e.prefix}/*",
        "aws-waf-logs-${e.prefix}-*",
        "/vpc/${e.prefix}/*",
        # API Gateway names its execution log group by the API's generated id.
        "API-Gateway-Execution-Logs_*",
        # SNS names the SMS delivery-status groups (the environment that owns the account's
        # settings makes them).
        "sns/${local.region}/${local.account}/*",
      ] : "${local.arn}:logs:${local.region}:${local.account}:log-group:${group}"]
    }
  }

  # Services whose ARNs AWS generates (an id, not a name): the role acts on what carries its
  # environment's tag (the provider's default_tags), and creates only what it tags so.
  tagged = ["apigateway", "application-autoscaling", "cognito-idp", "cloudfront", "ec2", "kms"]
  tagged_resources = {
    apigateway                = ["${local.arn}:apigateway:${local.region}::/restapis", "${local.arn}:apigateway:${local.region}::/restapis/*", "${local.arn}:apigateway:${local.region}::/tags/*"]
    "application-autoscaling" = ["${local.arn}:application-autoscaling:${local.region}:${local.account}:scalable-target/*"]
    "cognito-idp"             = ["${local.arn}:cognito-idp:${local.region}:${local.account}:userpool/*"]
    cloudfront                = ["${local.arn}:cloudfront::${local.account}:distribution/*"]
    ec2                       = ["*"]
    kms                       = ["${local.arn}:kms:${local.region}:${local.account}:key/*"]
  }
}
