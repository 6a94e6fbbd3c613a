output "enabled" {
  description = "Whether a sale is planned."
  value       = local.on
}

output "warm_throughput" {
  description = "Per table (products, orders, idempotency): the read and write units a second it must take at once. Empty without a sale."
  value       = local.warm_throughput
}

output "processor_pollers" {
  description = "The orders event source mapping's provisioned pollers (minimum, maximum); null without a sale."
  value       = local.pollers
}

output "provisioned_concurrency" {
  description = "Per function (authorizer, place-order, list-products): the environments kept warm on its live alias during the window. Empty without a sale."
  value       = local.provisioned_concurrency
}

output "window" {
  description = "The window as Application Auto Scaling's one-time schedules (at(...), UTC); null without a sale."
  value = local.on ? {
    start = "at(${formatdate("YYYY-MM-DD'T'hh:mm:ss", var.sale.start)})"
    end   = "at(${formatdate("YYYY-MM-DD'T'hh:mm:ss", var.sale.end)})"
  } : null
}

output "hot_product_shards" {
  description = "The stock shards a product needs when every order of the sale is for it."
  value       = local.hot_product_shards
}

output "sms_per_second" {
  description = "SMS a second at the peak (one per order): the account's SMS rate quota must be above it."
  value       = local.peak
}
