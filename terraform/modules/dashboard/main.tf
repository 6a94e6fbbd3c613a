# The operator's CloudWatch dashboard: the panels of delivery-local's console from the same
# metrics (./body, checked by `terraform test`).

module "body" {
  source = "./body"

  region             = var.region
  functions          = var.functions
  orders_queue_name  = var.orders_queue_name
  dead_letter_queues = var.dead_letter_queues
  alarm_arns         = var.alarm_arns
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = module.body.body
}
