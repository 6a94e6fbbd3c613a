run "no_sale_changes_nothing" {
  command = plan
  assert {
    condition     = !output.enabled && length(output.warm_throughput) == 0 && output.processor_pollers == null && length(output.provisioned_concurrency) == 0 && output.window == null
    error_message = "without a sale, nothing is provisioned"
  }
}

run "a_small_sale_meets_the_tables_as_they_are" {
  command = plan
  variables {
    sale = { start = "2026-11-27T08:00:00Z", end = "2026-11-27T20:00:00Z", peak_orders_per_second = 100 }
  }
  assert {
    condition     = output.warm_throughput.orders.write == 4000 && output.warm_throughput.products.read == 12000
    error_message = "below an on-demand table's starting point, the provider's floor is asked for"
  }
  assert {
    condition     = output.processor_pollers.minimum == 2 && output.processor_pollers.maximum == 2
    error_message = "SQS takes at least two pollers: 100 orders/s is 8 invocations at once"
  }
  assert {
    # authorizer: 100 × 6 × 0.2 × 0.02 × 1.5 = 3.6; place-order: 100 × 0.05 × 1.5 = 7.5;
    # list-products: 500 × 0.03 × 1.5 = 22.5.
    condition     = output.provisioned_concurrency["authorizer"] == 4 && output.provisioned_concurrency["place-order"] == 8 && output.provisioned_concurrency["list-products"] == 23
    error_message = "provisioned concurrency is requests a second × duration × headroom, rounded up"
  }
  assert {
    condition     = output.window.start == "at(2026-11-27T08:00:00)" && output.window.end == "at(2026-11-27T20:00:00)"
    error_message = "the window is Application Auto Scaling's one-time schedule, in UTC"
  }
  assert {
    condition     = output.hot_product_shards == 1 && output.sms_per_second == 100
    error_message = "100 orders/s fit one stock item (300 of its 1,000 write units)"
  }
}

run "a_big_sale_warms_the_tables_and_shards_the_hot_product" {
  command = plan
  variables {
    sale = { start = "2026-11-27T08:00:00Z", end = "2026-11-27T20:00:00Z", peak_orders_per_second = 2000 }
  }
  assert {
    # orders: 2,000 × 5 × 1.5 = 15,000 writes; products: 2,000 × 3.5 × 1.5 = 10,500 reads (the floor).
    condition     = output.warm_throughput.orders.write == 15000 && output.warm_throughput.products.write == 6000 && output.warm_throughput.products.read == 12000
    error_message = "write units per order × peak × headroom"
  }
  assert {
    # 2,000 / 10 × 0.5 × 1.5 = 150 invocations at once: 15 pollers, up to 30.
    condition     = output.processor_pollers.minimum == 15 && output.processor_pollers.maximum == 30
    error_message = "one poller per 10 concurrent invocations, twice that at most"
  }
  assert {
    # 2,000 × 2 × 1.5 / 1,000 = 6 items' worth of writes.
    condition     = output.hot_product_shards == 6
    error_message = "a product takes 1,000 write units a second, 2 per order"
  }
}

run "a_window_that_ends_before_it_starts_is_refused" {
  command = plan
  variables {
    sale = { start = "2026-11-27T20:00:00Z", end = "2026-11-27T08:00:00Z", peak_orders_per_second = 100 }
  }
  expect_failures = [var.sale]
}

run "a_peak_of_nothing_is_refused" {
  command = plan
  variables {
    sale = { start = "2026-11-27T08:00:00Z", end = "2026-11-27T20:00:00Z", peak_orders_per_second = 0 }
  }
  expect_failures = [var.sale]
}
