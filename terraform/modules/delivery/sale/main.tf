# A sale's capacity from its expected peak: pure arithmetic (no provider), so `terraform test`
# checks it offline. The delivery module applies the outputs; docs/deploy.md ("Preparing for a
# sale") explains each number.

locals {
  a    = var.assumptions
  on   = var.sale != null
  peak = local.on ? var.sale.peak_orders_per_second : 0

  # DynamoDB's write units per order, by table. A sale's order has one line: its reservation and
  # the order's put are one transaction (2 units per item); notify-carrier then claims the order
  # (1), may hold its claim texted (1) and records it dispatched (1); the idempotency table takes
  # the key's use (1) and the principal's hourly count (1).
  writes_per_order = { products = 2, orders = 5, idempotency = 2 }
  # Read units per order: the processor's consistent read of the product (1), the catalog pages
  # a customer reads (eventually consistent, half a unit per 4 KB page), place-order's reads of
  # the key and the count (1 each).
  reads_per_order = {
    products    = 1 + 0.5 * local.a.lists_per_order
    orders      = 2
    idempotency = 2
  }
  # The AWS provider accepts no warm throughput below an on-demand table's own starting point
  # (12,000 reads and 4,000 writes a second): a smaller peak is met as it is.
  floor = { read = 12000, write = 4000 }

  warm_throughput = local.on ? {
    for table, writes in local.writes_per_order : table => {
      read  = max(local.floor.read, ceil(local.peak * local.reads_per_order[table] * local.a.headroom))
      write = max(local.floor.write, ceil(local.peak * writes * local.a.headroom))
    }
  } : {}

  # The processor: batches of 10, each taking processor_batch_seconds; an event poller drives up
  # to 10 concurrent invocations (Lambda's SQS provisioned mode), and SQS takes at least 2.
  processor_concurrency = ceil(local.peak / 10 * local.a.processor_batch_seconds * local.a.headroom)
  pollers = local.on ? {
    minimum = max(2, ceil(local.processor_concurrency / 10))
    maximum = max(2, ceil(2 * local.processor_concurrency / 10))
  } : null

  # Provisioned concurrency on the functions a customer meets first: requests a second times
  # their duration, with headroom.
  requests = {
    authorizer      = local.peak * (1 + local.a.lists_per_order) * local.a.authorizer_miss_ratio
    "place-order"   = local.peak
    "list-products" = local.peak * local.a.lists_per_order
  }
  seconds = {
    authorizer      = local.a.authorizer_seconds
    "place-order"   = local.a.place_order_seconds
    "list-products" = local.a.list_products_seconds
  }
  provisioned_concurrency = local.on ? {
    for f, rate in local.requests : f => max(1, ceil(rate * local.seconds[f] * local.a.headroom))
  } : {}

  # One product's stock item takes 1,000 write units a second, 2 per order: the shards a
  # product needs when every order of the sale is for it.
  hot_product_shards = local.on ? min(32, ceil(local.peak * 2 * local.a.headroom / 1000)) : 1
}
