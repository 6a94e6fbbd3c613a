# The tables exactly as crates/store-dynamodb/src/schema.rs defines them (the wiring check in
# crates/wiring-check compares the two): string key `id` (and a string range key where a table
# has one), on-demand, every index projecting all.

locals {
  tables = {
    products = {
      indexes = [{ name = "by_company", hash_key = "company_id", range_key = "id" }]
    }
    # awaiting_dispatch is sparse: awaiting (one of 16 labels, so a sale's writes spread over
    # partitions) exists only while an accepted order waits for its SMS; the reconciler reads it.
    orders = {
      indexes = [
        { name = "by_customer", hash_key = "customer_id", range_key = "created_at" },
        { name = "awaiting_dispatch", hash_key = "awaiting", range_key = "recorded_at" },
      ]
    }
    carriers = {
      indexes = []
    }
    # The uses of Idempotency-Keys, each kept a day (TTL on expires_at).
    idempotency = {
      indexes = []
      ttl     = "expires_at"
    }
    # Catalog imports and their progress, each kept 7 days (TTL on expires_at). The indexes are
    # sparse: open_company exists only while an import is pending or running, running only
    # while it runs (the reconciler finds the stalled ones by it).
    imports = {
      indexes = [
        { name = "open_by_company", hash_key = "open_company", range_key = "created_at" },
        { name = "running_by_update", hash_key = "running", range_key = "updated_at" },
      ]
      ttl = "expires_at"
    }
    # Every change a company made to a product, by product id and the version it made (newest
    # first in a descending Query), each kept 400 days (TTL on expires_at).
    history = {
      range_key = "version"
      indexes   = []
      ttl       = "expires_at"
    }
  }
}

resource "aws_dynamodb_table" "this" {
  for_each = local.tables

  name                        = "${var.name_prefix}-${each.key}"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  range_key                   = lookup(each.value, "range_key", null)
  deletion_protection_enabled = var.deletion_protection

  dynamic "attribute" {
    for_each = toset(concat(
      ["id"], compact([lookup(each.value, "range_key", "")]),
      flatten([for i in each.value.indexes : [i.hash_key, i.range_key]]),
    ))
    content {
      name = attribute.value
      type = "S"
    }
  }

  dynamic "global_secondary_index" {
    for_each = each.value.indexes
    content {
      name            = global_secondary_index.value.name
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = "ALL"
    }
  }

  # Set ahead of a sale (the sale module's arithmetic). Left out afterwards, the provider keeps
  # the value AWS holds, which it cannot lower: unsetting a sale plans no change here.
  dynamic "warm_throughput" {
    for_each = contains(keys(var.warm_throughput), each.key) ? [var.warm_throughput[each.key]] : []
    content {
      read_units_per_second  = warm_throughput.value.read
      write_units_per_second = warm_throughput.value.write
    }
  }

  dynamic "ttl" {
    for_each = lookup(each.value, "ttl", null) == null ? [] : [each.value.ttl]
    content {
      attribute_name = ttl.value
      enabled        = true
    }
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}
