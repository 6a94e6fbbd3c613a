# The whole system for one environment (ARCHITECTURE.md): the key, the tables, the orders queue,
# the events topic, the imports bucket and queue, the thirteen functions with exactly the
# permissions their adapters use, their triggers, the API, the alarms and gradual deploys; and,
# when asked, the user pool (enable_cognito) and private networking (enable_vpc).
# crates/wiring-check verifies this wiring against the code.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.region
  partition = data.aws_partition.current.partition

  products_table = module.tables.arns["products"]
  orders_table   = module.tables.arns["orders"]
  carriers_table = module.tables.arns["carriers"]

  # No SSL_CERT_FILE: the functions trust the five roots of Amazon Trust Services, compiled in
  # (crates/composition/src/tls.rs); a file named there would add its roots to every cold start
  # (docs/performance.md, "TLS roots").
  log_env = { RUST_LOG = var.rust_log }
  table_env = {
    PRODUCTS_TABLE = module.tables.names["products"]
    ORDERS_TABLE   = module.tables.names["orders"]
    CARRIERS_TABLE = module.tables.names["carriers"]
  }
  idempotency_env = { IDEMPOTENCY_TABLE = module.tables.names["idempotency"] }
  history_table   = module.tables.arns["history"]
  history_env     = { HISTORY_TABLE = module.tables.names["history"] }
  imports_table   = module.tables.arns["imports"]
  imports_env = {
    IMPORTS_TABLE  = module.tables.names["imports"]
    IMPORTS_BUCKET = module.imports.bucket_name
  }
  import_files = "${module.imports.bucket_arn}/imports/*"
  queue_env = {
    ORDERS_QUEUE_URL = module.orders_queue.url
    ORDERS_DLQ_URL   = module.orders_queue.dlq_url
  }
  # The web page's origin is always allowed, besides the configured ones.
  # First, the page's: the origin the gateway's own error answers name.
  cors_origins = distinct(concat([module.site.origin], var.cors_allowed_origins))
  cors_env     = { CORS_ALLOWED_ORIGINS = join(",", local.cors_origins) }
  # The authorizer's issuer: the user pool (enable_cognito), or the one given.
  jwt_env = var.enable_cognito ? module.identity[0].authorizer_env : merge(
    { JWT_ISSUER = var.jwt_issuer, JWT_AUDIENCE = var.jwt_audience, JWT_SCOPE_PREFIX = var.jwt_scope_prefix },
    { for k, v in { JWKS = var.jwks, JWKS_URL = var.jwks_url } : k => v if v != "" },
  )

  # The pool names pre-token's alias by its ARN, built rather than read: the pool's outputs
  # reach the authorizer's environment, and every function's instance comes from one
  # for_each, so reading the alias would make a cycle. aws_lambda_permission.pre_token checks
  # that the built ARN is the alias's.
  pre_token_trigger = "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.name}-pre-token:live"

  # The functions whose Lambda Errors include outcomes of their design: a refused token (the
  # authorizer), a delivery Lambda retries (notify-carrier). Their alarms, and a canary's, count
  # the Faults metric they emit instead.
  faults_only = ["authorizer", "notify-carrier"]

  # With enable_vpc, the functions that reach data run in the VPC. The authorizer and pre-token
  # reach none (no statement): outside it, the authorizer has its route to the JWKS URL.
  outside_vpc = ["authorizer", "pre-token"]

  deployed_functions = { for k, f in local.functions : k => f if k != "pre-token" || var.enable_cognito }

  processor_timeout = 30
  # A 100,000-row file takes well under a minute; the rest is room for retries.
  importer_timeout = 300
  # An import without progress for longer than its queue's visibility timeout plus the
  # importer's timeout is not waiting for a delivery any more: the reconciler fails it.
  import_stall_seconds = module.imports.visibility_timeout_seconds + local.importer_timeout

  # Every function: its memory size, its settings and exactly the statements its adapters
  # need. Each memory size is the smallest whose cold start (the first AWS call over TLS
  # included) is at most 100 ms and, on the request path, whose warm p99 is at most 10 ms, as
  # scripts/bench measures them under each size's CPU share; for the queue consumers, which run
  # warm under load, the one of those with the lowest memory × warm latency. docs/performance.md,
  # "Memory sizes", has the table and the reasons.
  functions = {
    # Every five minutes (aws_scheduler_schedule.reconciler): announces again the accepted
    # orders left undispatched for 10 minutes, and fails the imports that stopped.
    reconciler = {
      memory_mb       = 256
      timeout_seconds = 60
      environment = merge(local.log_env, local.table_env, {
        IMPORTS_TABLE                   = local.imports_env.IMPORTS_TABLE
        EVENTS_TOPIC_ARN                = module.events.arn
        RECONCILE_ORDERS_AFTER_SECONDS  = "600"
        RECONCILE_IMPORTS_AFTER_SECONDS = tostring(local.import_stall_seconds)
      })
      statements = [
        {
          sid       = "FindUndispatchedOrders"
          actions   = ["dynamodb:Query"]
          resources = ["${local.orders_table}/index/awaiting_dispatch"]
        },
        {
          sid       = "FindStalledImports"
          actions   = ["dynamodb:Query"]
          resources = ["${local.imports_table}/index/running_by_update"]
        },
        {
          # Conditional on the progress it read: an import that moved is left running.
          sid       = "FailStalledImports"
          actions   = ["dynamodb:UpdateItem"]
          resources = [local.imports_table]
        },
        {
          sid       = "AnnounceAgain"
          actions   = ["sns:Publish"]
          resources = [module.events.arn]
        },
      ]
    }
    authorizer = {
      memory_mb       = 512
      timeout_seconds = 5
      environment     = merge(local.log_env, local.jwt_env)
      statements      = []
    }
    list-products = {
      memory_mb       = 1024
      timeout_seconds = 10
      environment     = merge(local.log_env, local.table_env, local.cors_env)
      # BatchGetItem: a product of several stock shards is read with its shards.
      statements = [{
        sid       = "ReadCatalog"
        actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Scan", "dynamodb:Query"]
        resources = [local.products_table, "${local.products_table}/index/by_company"]
      }]
    }
    order-total = {
      memory_mb       = 1024
      timeout_seconds = 10
      environment     = merge(local.log_env, local.table_env, local.cors_env)
      statements = [{
        sid       = "PriceBasket"
        actions   = ["dynamodb:BatchGetItem"]
        resources = [local.products_table]
      }]
    }
    update-product = {
      memory_mb       = 1024
      timeout_seconds = 10
      environment     = merge(local.log_env, local.table_env, local.history_env, local.cors_env)
      statements = [
        {
          # A write reads the product with its stock shards (BatchGetItem) and rewrites them in
          # one transaction, whose items IAM authorizes one by one: a put each, and a delete for
          # each shard past a lowered count.
          sid       = "WriteProducts"
          actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
          resources = [local.products_table]
        },
        {
          # Each write's history entry, in its transaction; GET /products/{id}/history.
          sid       = "KeepHistory"
          actions   = ["dynamodb:PutItem", "dynamodb:Query"]
          resources = [local.history_table]
        },
      ]
    }
    start-import = {
      memory_mb       = 1024
      timeout_seconds = 10
      environment = merge(
        local.log_env, { PRODUCTS_TABLE = local.table_env.PRODUCTS_TABLE }, local.imports_env, local.cors_env
      )
      statements = [
        {
          # UpdateItem: a pending import whose upload URL expired unused is failed.
          sid       = "RecordImports"
          actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
          resources = [local.imports_table]
        },
        {
          # The company's open imports, counted against the cap on each POST /imports.
          sid       = "CountOpenImports"
          actions   = ["dynamodb:Query"]
          resources = ["${local.imports_table}/index/open_by_company"]
        },
        {
          # A presigned PUT acts with the signer's rights: only under imports/, and the
          # bucket's key (SSE-KMS) for the upload.
          sid       = "PresignUploads"
          actions   = ["s3:PutObject"]
          resources = [local.import_files]
        },
      ]
    }
    # Cognito's pre token generation trigger (enable_cognito): it reads no setting and calls
    # nothing, so it holds no statement.
    pre-token = {
      memory_mb       = 128
      timeout_seconds = 5
      environment     = local.log_env
      statements      = []
    }
    import-catalog = {
      memory_mb       = 512
      timeout_seconds = local.importer_timeout
      environment     = merge(local.log_env, local.table_env, local.imports_env, local.history_env)
      statements = [
        {
          # An import reads the version of the upload it started on (GetObject with versionId).
          sid       = "ReadFiles"
          actions   = ["s3:GetObject", "s3:GetObjectVersion"]
          resources = [local.import_files]
        },
        {
          # Without s3:ListBucket, S3 answers 403 AccessDenied, not 404, for an object or version
          # that is gone (S3's GetObject documentation): the importer could not tell "gone" from
          # "forbidden". Listing is allowed under imports/ only.
          sid       = "KnowGoneFiles"
          actions   = ["s3:ListBucket"]
          resources = [module.imports.bucket_arn]
          condition = { test = "StringLike", variable = "s3:prefix", values = ["imports/*"] }
        },
        {
          # Each batch is one transaction: product puts (and deletes of shards past a lowered
          # count) and the import's checkpoint update.
          sid       = "WriteProducts"
          actions   = ["dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
          resources = [local.products_table]
        },
        {
          # Each written row's history entry, in its batch's transaction.
          sid       = "KeepHistory"
          actions   = ["dynamodb:PutItem"]
          resources = [local.history_table]
        },
        {
          sid       = "TrackImports"
          actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
          resources = [local.imports_table]
        },
        {
          sid       = "ConsumeImports"
          actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
          resources = [module.imports.queue_arn]
        },
      ]
    }
    place-order = {
      memory_mb       = 512
      timeout_seconds = 10
      environment = merge(local.log_env, local.table_env, local.queue_env, local.idempotency_env, local.cors_env,
      { ORDERS_PER_PRINCIPAL_PER_HOUR = tostring(var.orders_per_principal_per_hour) })
      statements = [
        {
          sid       = "PriceBasket"
          actions   = ["dynamodb:BatchGetItem"]
          resources = [local.products_table]
        },
        {
          # A key's first use, and each principal's orders of the hour (UpdateItem).
          sid       = "RememberKeys"
          actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
          resources = [module.tables.arns["idempotency"]]
        },
        {
          sid       = "EnqueueOrders"
          actions   = ["sqs:SendMessage"]
          resources = [module.orders_queue.arn]
        },
        {
          # A key whose use is forgotten still names the order it placed.
          sid       = "ReadPlacedOrders"
          actions   = ["dynamodb:GetItem"]
          resources = [local.orders_table]
        },
      ]
    }
    get-order = {
      memory_mb       = 1024
      timeout_seconds = 10
      environment     = merge(local.log_env, local.table_env, local.cors_env)
      statements = [{
        sid       = "ReadOwnOrders"
        actions   = ["dynamodb:GetItem", "dynamodb:Query"]
        resources = [local.orders_table, "${local.orders_table}/index/by_customer"]
      }]
    }
    order-simulator = {
      memory_mb       = 256
      timeout_seconds = 60
      environment     = merge(local.log_env, local.table_env, local.queue_env, local.cors_env)
      statements = [
        {
          # BatchGetItem: the stock shards of the products listed.
          sid       = "ListCatalog"
          actions   = ["dynamodb:Scan", "dynamodb:BatchGetItem"]
          resources = [local.products_table]
        },
        {
          sid       = "EnqueueOrders"
          actions   = ["sqs:SendMessage"]
          resources = [module.orders_queue.arn]
        },
      ]
    }
    order-processor = {
      memory_mb       = 256
      timeout_seconds = local.processor_timeout
      environment = merge(local.log_env, local.table_env, local.queue_env,
      { EVENTS_TOPIC_ARN = module.events.arn })
      statements = [
        {
          # The reservation transaction updates products and puts the order; GetItem reads a
          # product's number of stock shards when it is not known yet or has changed.
          sid       = "ReserveStock"
          actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"]
          resources = [local.products_table]
        },
        {
          sid       = "RecordOrders"
          actions   = ["dynamodb:PutItem", "dynamodb:GetItem"]
          resources = [local.orders_table]
        },
        {
          sid       = "ConsumeOrders"
          actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
          resources = [module.orders_queue.arn]
        },
        {
          sid       = "DeadLetterMalformed"
          actions   = ["sqs:SendMessage"]
          resources = [module.orders_queue.dlq_arn]
        },
        {
          sid       = "PublishEvents"
          actions   = ["sns:Publish"]
          resources = [module.events.arn]
        },
      ]
    }
    notify-carrier = {
      memory_mb       = 512
      timeout_seconds = 30
      environment     = merge(local.log_env, local.table_env)
      statements = [
        {
          sid       = "DispatchOrders"
          actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
          resources = [local.orders_table]
        },
        {
          sid       = "ListCarriers"
          actions   = ["dynamodb:Scan"]
          resources = [local.carriers_table]
        },
        {
          # An SMS goes to a phone number, which has no ARN: "*" is the only resource AWS offers.
          sid       = "TextCarriers"
          actions   = ["sns:Publish"]
          resources = ["*"]
        },
        {
          # ... and so SMS only: no publishing to any topic (no forged order events).
          sid       = "NoTopics"
          effect    = "Deny"
          actions   = ["sns:Publish"]
          resources = ["arn:${local.partition}:sns:*:*:*"]
        },
        {
          sid       = "FailedNotifications"
          actions   = ["sqs:SendMessage"]
          resources = [aws_sqs_queue.notifications_dlq.arn]
        },
      ]
    }
  }

  # The API's routes: the same table as domain::auth::ROUTES (the wiring check compares them).
  routes = [
    { method = "GET", path = "/products", function = "list-products" },
    { method = "GET", path = "/products/{id}", function = "list-products" },
    { method = "PUT", path = "/products/{id}", function = "update-product" },
    { method = "PATCH", path = "/products/{id}", function = "update-product" },
    { method = "GET", path = "/products/{id}/history", function = "update-product" },
    { method = "POST", path = "/imports", function = "start-import" },
    { method = "GET", path = "/imports/{id}", function = "start-import" },
    { method = "POST", path = "/orders/total", function = "order-total" },
    { method = "POST", path = "/orders", function = "place-order" },
    { method = "GET", path = "/orders", function = "get-order" },
    { method = "GET", path = "/orders/{id}", function = "get-order" },
    { method = "POST", path = "/simulations", function = "order-simulator" },
  ]
}

# pre-token is Cognito's trigger: without the user pool nothing would invoke it.
module "function" {
  source   = "../lambda-function"
  for_each = local.deployed_functions

  name                 = "${var.name}-${each.key}"
  zip_path             = "${var.package_dir}/${each.key}/bootstrap.zip"
  memory_mb            = each.value.memory_mb
  timeout_seconds      = each.value.timeout_seconds
  environment          = each.value.environment
  policy_statements    = each.value.statements
  reserved_concurrency = lookup(var.reserved_concurrency, each.key, -1)
  vpc                  = var.enable_vpc && !contains(local.outside_vpc, each.key) ? { subnet_ids = module.network[0].subnet_ids, security_group_ids = module.network[0].security_group_ids } : null
  kms_key_arn          = aws_kms_key.this.arn
  log_retention_days   = var.log_retention_days
}

module "network" {
  source = "../network"
  count  = var.enable_vpc ? 1 : 0

  name               = var.name
  kms_key_arn        = aws_kms_key.this.arn
  log_retention_days = var.log_retention_days
  existing           = var.vpc
}

module "identity" {
  source = "../identity"
  count  = var.enable_cognito ? 1 : 0

  name                = var.name
  domain_prefix       = coalesce(var.cognito.domain_prefix, "${var.name}-${local.account}")
  page_url            = "${module.site.url}/"
  pre_token_arn       = local.pre_token_trigger
  integrations        = var.cognito.integrations
  self_sign_up        = var.cognito.self_sign_up
  ses_identity_arn    = var.cognito.ses_identity_arn
  email_from          = var.cognito.email_from
  deletion_protection = var.deletion_protection
}

# Cognito may invoke pre-token's alias, for this pool only.
resource "aws_lambda_permission" "pre_token" {
  count = var.enable_cognito ? 1 : 0

  statement_id  = "CognitoPreTokenGeneration"
  action        = "lambda:InvokeFunction"
  function_name = module.function["pre-token"].function_name
  qualifier     = module.function["pre-token"].alias_name
  principal     = "cognito-idp.amazonaws.com"
  source_arn    = module.identity[0].user_pool_arn

  lifecycle {
    precondition {
      condition     = module.function["pre-token"].alias_arn == local.pre_token_trigger
      error_message = "The user pool's trigger (local.pre_token_trigger) must be pre-token's live alias."
    }
  }
}

module "deploy" {
  source = "../deploy"

  name     = var.name
  strategy = var.deployment_strategy
  functions = {
    for k, f in module.function : k => {
      function_name     = f.function_name
      alias_name        = f.alias_name
      version           = f.version
      timeout_seconds   = local.functions[k].timeout_seconds
      errors_are_faults = !contains(local.faults_only, k)
    }
  }
}

module "tables" {
  source = "../tables"

  name_prefix         = var.name
  kms_key_arn         = aws_kms_key.this.arn
  deletion_protection = var.deletion_protection
  warm_throughput     = module.sale.warm_throughput
}

# A sale's capacity: the arithmetic from its expected peak (pure, tested offline).
module "sale" {
  source = "./sale"
  sale   = var.sale
}

resource "aws_dynamodb_table_item" "carrier" {
  for_each = { for c in var.carriers : c.id => c }

  table_name = module.tables.names["carriers"]
  hash_key   = "id"
  item = jsonencode({
    id     = { S = each.value.id }
    name   = { S = each.value.name }
    phone  = { S = each.value.phone }
    active = { BOOL = each.value.active }
  })
}

module "orders_queue" {
  source = "../queue"

  name                     = "${var.name}-orders"
  consumer_timeout_seconds = local.processor_timeout
  max_receive_count        = 5
  kms_key_arn              = aws_kms_key.this.arn
}

# order-processor: batches of 10, failed items reported one by one. Its scaling is bounded by
# maximum concurrency (protecting DynamoDB and the SMS rate) or, while a sale is planned, by
# provisioned pollers: AWS makes the two exclusive, and a sale needs pollers ready before its
# first wave (standard mode scales them up gradually), their maximum bounding concurrency instead.
resource "aws_lambda_event_source_mapping" "orders" {
  event_source_arn        = module.orders_queue.arn
  function_name           = module.function["order-processor"].alias_arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  dynamic "scaling_config" {
    for_each = module.sale.enabled ? [] : [1]
    content {
      maximum_concurrency = var.processor_max_concurrency
    }
  }

  dynamic "provisioned_poller_config" {
    for_each = module.sale.enabled ? [module.sale.processor_pollers] : []
    content {
      minimum_pollers = provisioned_poller_config.value.minimum
      maximum_pollers = provisioned_poller_config.value.maximum
    }
  }
}

# Provisioned concurrency on the live alias of the functions a customer meets first, for the
# sale's window only: Application Auto Scaling raises it at the start and takes it to 0 at the
# end (the scalable target allows 0 to the arithmetic's figure).
resource "aws_appautoscaling_target" "sale" {
  for_each = module.sale.provisioned_concurrency

  service_namespace  = "lambda"
  scalable_dimension = "lambda:function:ProvisionedConcurrency"
  resource_id        = "function:${module.function[each.key].function_name}:${module.function[each.key].alias_name}"
  min_capacity       = 0
  max_capacity       = each.value
}

# At the window's start, each function's figure; at its end, 0.
resource "aws_appautoscaling_scheduled_action" "sale" {
  for_each = {
    for pair in setproduct(keys(module.sale.provisioned_concurrency), ["start", "end"]) :
    "${pair[0]}-${pair[1]}" => {
      function = pair[0]
      schedule = module.sale.window[pair[1]]
      capacity = pair[1] == "start" ? module.sale.provisioned_concurrency[pair[0]] : 0
    }
  }

  name               = "${var.name}-${each.key}-of-sale"
  service_namespace  = aws_appautoscaling_target.sale[each.value.function].service_namespace
  scalable_dimension = aws_appautoscaling_target.sale[each.value.function].scalable_dimension
  resource_id        = aws_appautoscaling_target.sale[each.value.function].resource_id
  schedule           = each.value.schedule
  timezone           = "UTC"

  scalable_target_action {
    min_capacity = each.value.capacity
    max_capacity = each.value.capacity
  }
}

module "imports" {
  source = "../imports"

  name                     = var.name
  kms_key_arn              = aws_kms_key.this.arn
  consumer_timeout_seconds = local.importer_timeout
  upload_origins           = local.cors_origins
}

# import-catalog: one file at a time, failed files reported.
resource "aws_lambda_event_source_mapping" "imports" {
  event_source_arn        = module.imports.queue_arn
  function_name           = module.function["import-catalog"].alias_arn
  batch_size              = 1
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = 2
  }
}

module "events" {
  source = "../topic"

  name                     = "${var.name}-order-events"
  kms_key_arn              = aws_kms_key.this.arn
  subscriber_function_name = module.function["notify-carrier"].function_name
  subscriber_function_arn  = module.function["notify-carrier"].alias_arn
  subscriber_qualifier     = module.function["notify-carrier"].alias_name
  filter_types             = ["order.accepted"]
  subscription_dlq_arn     = aws_sqs_queue.notifications_dlq.arn
  manage_sms_preferences   = var.manage_account_settings
  sms_monthly_spend_limit  = var.sms_monthly_spend_limit
  log_retention_days       = var.log_retention_days
}

# notify-carrier is invoked asynchronously by SNS: two retries, then the notifications DLQ.
resource "aws_sqs_queue" "notifications_dlq" {
  name                              = "${var.name}-notifications-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300
}

# The events topic may put what it cannot deliver into the notifications DLQ (its redrive).
data "aws_iam_policy_document" "notifications_dlq" {
  statement {
    sid       = "EventsTopicRedrive"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.notifications_dlq.arn]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [module.events.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "notifications_dlq" {
  queue_url = aws_sqs_queue.notifications_dlq.id
  policy    = data.aws_iam_policy_document.notifications_dlq.json
}

resource "aws_lambda_function_event_invoke_config" "notify_carrier" {
  function_name                = module.function["notify-carrier"].function_name
  qualifier                    = module.function["notify-carrier"].alias_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.notifications_dlq.arn
    }
  }
}

# The reconciler, every five minutes, on its live alias. A failed run is not retried, by the
# schedule or by Lambda: the next run, five minutes later, does the same work again.
resource "aws_scheduler_schedule" "reconciler" {
  #checkov:skip=CKV_AWS_297:the schedule's input is a constant without data; an AWS owned key protects it
  name                = "${var.name}-reconciler"
  schedule_expression = "rate(5 minutes)"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = module.function["reconciler"].alias_arn
    role_arn = aws_iam_role.schedule.arn
    input    = jsonencode({ reconcile = "scheduled" })

    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 300
    }
  }
}

# The schedule's role: EventBridge Scheduler of this account may invoke the reconciler's alias.
data "aws_iam_policy_document" "schedule_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "schedule" {
  name               = "${var.name}-reconciler-schedule"
  assume_role_policy = data.aws_iam_policy_document.schedule_trust.json
}

data "aws_iam_policy_document" "schedule" {
  statement {
    sid       = "InvokeReconciler"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.function["reconciler"].alias_arn]
  }
}

resource "aws_iam_role_policy" "schedule" {
  name   = "invoke-reconciler"
  role   = aws_iam_role.schedule.id
  policy = data.aws_iam_policy_document.schedule.json
}

# Scheduler invokes asynchronously: no retry by Lambda either (see above).
resource "aws_lambda_function_event_invoke_config" "reconciler" {
  function_name                = module.function["reconciler"].function_name
  qualifier                    = module.function["reconciler"].alias_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 300
}

module "api" {
  source = "../rest-api"

  name = var.name
  routes = [
    for r in local.routes : {
      method        = r.method
      path          = r.path
      function_name = module.function[r.function].function_name
      qualifier     = module.function[r.function].alias_name
      invoke_arn    = module.function[r.function].alias_invoke_arn
    }
  ]
  authorizer = {
    function_name     = module.function["authorizer"].function_name
    qualifier         = module.function["authorizer"].alias_name
    invoke_arn        = module.function["authorizer"].alias_invoke_arn
    cache_ttl_seconds = var.authorizer_cache_ttl_seconds
  }
  cors_allowed_origins    = local.cors_origins
  web_acl_arn             = module.edge.web_acl_arn
  throttling_rate_limit   = var.throttling_rate_limit
  throttling_burst_limit  = var.throttling_burst_limit
  kms_key_arn             = aws_kms_key.this.arn
  log_retention_days      = var.log_retention_days
  manage_account_settings = var.manage_account_settings
}

module "edge" {
  source = "../edge"

  name                           = var.name
  requests_per_ip_per_5_minutes  = var.requests_per_ip_per_5_minutes
  orders_per_token_per_5_minutes = var.orders_per_token_per_5_minutes
  kms_key_arn                    = aws_kms_key.this.arn
  waf_log_retention_days         = var.waf_log_retention_days
}

module "site" {
  source = "../site"

  name = var.name
}

module "alarms" {
  source = "../alarms"

  name_prefix = var.name
  kms_key_arn = aws_kms_key.this.arn
  alarm_email = var.alarm_email
  dead_letter_queues = {
    orders        = module.orders_queue.dlq_name
    notifications = aws_sqs_queue.notifications_dlq.name
    imports       = module.imports.dlq_name
  }
  function_names          = [for f in module.function : f.function_name]
  faults_only_functions   = [for k in local.faults_only : module.function[k].function_name]
  events_topic_name       = module.events.name
  reconciler_function     = module.function["reconciler"].function_name
  sms_monthly_spend_limit = var.sms_monthly_spend_limit
  sms_countries           = var.sms_countries
  api_name                = module.api.name
  api_stage               = module.api.stage_name
  api_p99_latency_ms      = var.api_p99_latency_ms
}

module "dashboard" {
  source = "../dashboard"

  name      = var.name
  region    = data.aws_region.current.region
  functions = { for k, f in module.function : k => f.function_name }
  # The queue module's name output is the orders queue's name.
  orders_queue_name = module.orders_queue.name
  dead_letter_queues = {
    orders        = module.orders_queue.dlq_name
    notifications = aws_sqs_queue.notifications_dlq.name
    imports       = module.imports.dlq_name
  }
  alarm_arns = module.alarms.alarm_arns
}
