variable "sale" {
  description = "A known peak: its window (RFC 3339, UTC) and the orders a second expected at its height. null when none is planned."
  type = object({
    start                  = string
    end                    = string
    peak_orders_per_second = number
  })
  default = null

  validation {
    condition     = var.sale == null || try(timecmp(var.sale.start, var.sale.end) < 0, false)
    error_message = "sale.start and sale.end must be RFC 3339 times (e.g. 2026-11-27T08:00:00Z), the start first."
  }
  validation {
    condition     = var.sale == null || try(var.sale.peak_orders_per_second >= 1 && var.sale.peak_orders_per_second <= 100000, false)
    error_message = "sale.peak_orders_per_second must be from 1 to 100,000."
  }
}

variable "assumptions" {
  description = "What the arithmetic assumes of the traffic and of the functions (docs/deploy.md, \"Preparing for a sale\"): measure them in a rehearsal and set them here."
  type = object({
    # Catalog pages a customer reads per order placed.
    lists_per_order = optional(number, 5)
    # A share of requests whose token's policy is not in API Gateway's cache (its TTL is 30 s).
    authorizer_miss_ratio = optional(number, 0.2)
    # Warm p99 durations, in seconds.
    authorizer_seconds      = optional(number, 0.02)
    place_order_seconds     = optional(number, 0.05)
    list_products_seconds   = optional(number, 0.03)
    processor_batch_seconds = optional(number, 0.5)
    # Capacity above the expected peak.
    headroom = optional(number, 1.5)
  })
  default = {}
}
