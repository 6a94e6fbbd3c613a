# Private networking (enable_vpc): the functions run in private subnets across two
# AZs and reach AWS only through VPC endpoints (gateway: DynamoDB, S3; interface: SQS, SNS,
# X-Ray). No NAT gateway and no route to the internet: a function can reach
# nothing else. The authorizer and pre-token reach no data and run outside (modules/delivery's
# local.outside_vpc), so the authorizer's JWKS_URL keeps its route.

data "aws_region" "current" {}
data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:only the first two names (sorted) are used, which a new AZ leaves as they are; the subnets pin their AZ once created
  state = "available"
}

locals {
  create = var.existing == null
  region = data.aws_region.current.region
  azs    = slice(data.aws_availability_zones.available.names, 0, 2)

  vpc_id          = local.create ? aws_vpc.this[0].id : var.existing.vpc_id
  subnet_ids      = local.create ? aws_subnet.private[*].id : var.existing.subnet_ids
  route_table_ids = local.create ? [aws_route_table.private[0].id] : var.existing.route_table_ids
  vpc_cidr        = local.create ? aws_vpc.this[0].cidr_block : data.aws_vpc.existing[0].cidr_block

  # Only what the functions' own code calls: Lambda ships their logs itself, from outside the
  # VPC, so a CloudWatch Logs endpoint (billed per hour and AZ) would carry nothing.
  interface_services = ["sqs", "sns", "xray"]
  gateway_services   = ["dynamodb", "s3"]
}

data "aws_vpc" "existing" {
  count = local.create ? 0 : 1
  id    = var.existing.vpc_id
}

resource "aws_vpc" "this" {
  count                = local.create ? 1 : 0
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = var.name }
}

# Nothing may use the default security group.
resource "aws_default_security_group" "this" {
  count  = local.create ? 1 : 0
  vpc_id = aws_vpc.this[0].id
}

resource "aws_subnet" "private" {
  count                   = local.create ? 2 : 0
  vpc_id                  = aws_vpc.this[0].id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.cidr_block, 4, count.index)
  map_public_ip_on_launch = false
  tags                    = { Name = "${var.name}-private-${local.azs[count.index]}" }
}

# No route beyond the VPC but the gateway endpoints' (added by AWS to this table).
resource "aws_route_table" "private" {
  count  = local.create ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = { Name = "${var.name}-private" }
}

resource "aws_route_table_association" "private" {
  count          = local.create ? 2 : 0
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[0].id
}

resource "aws_cloudwatch_log_group" "flow" {
  count             = local.create ? 1 : 0
  name              = "/vpc/${var.name}/flow"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "flow_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "flow" {
  count              = local.create ? 1 : 0
  name               = "${var.name}-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_assume.json
}

data "aws_iam_policy_document" "flow" {
  count = local.create ? 1 : 0
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow" {
  count  = local.create ? 1 : 0
  name   = "${var.name}-flow-logs"
  role   = aws_iam_role.flow[0].id
  policy = data.aws_iam_policy_document.flow[0].json
}

resource "aws_flow_log" "this" {
  count           = local.create ? 1 : 0
  vpc_id          = aws_vpc.this[0].id
  traffic_type    = "REJECT"
  log_destination = aws_cloudwatch_log_group.flow[0].arn
  iam_role_arn    = aws_iam_role.flow[0].arn
}

# The functions: no ingress; out only over HTTPS, to the interface endpoints and the gateway
# endpoints' prefix lists.
resource "aws_security_group" "functions" {
  #checkov:skip=CKV2_AWS_5:attached to every function by the delivery module (lambda-function's vpc), which checkov does not follow across modules
  name        = "${var.name}-functions"
  description = "The functions: no ingress, HTTPS out to the VPC endpoints only"
  vpc_id      = local.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "to_interface_endpoints" {
  security_group_id            = aws_security_group.functions.id
  description                  = "HTTPS to the interface endpoints (SQS, SNS, Logs, X-Ray)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id
}

resource "aws_vpc_security_group_egress_rule" "to_gateway_endpoints" {
  for_each          = aws_vpc_endpoint.gateway
  security_group_id = aws_security_group.functions.id
  description       = "HTTPS to ${each.key} through its gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = each.value.prefix_list_id
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-endpoints"
  description = "The interface endpoints: HTTPS in from the functions only"
  vpc_id      = local.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "from_functions" {
  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from the functions"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.functions.id
}

resource "aws_vpc_endpoint" "gateway" {
  for_each          = toset(local.gateway_services)
  vpc_id            = local.vpc_id
  service_name      = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = local.route_table_ids
  tags              = { Name = "${var.name}-${each.key}" }
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = toset(local.interface_services)
  vpc_id              = local.vpc_id
  service_name        = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = local.subnet_ids
  security_group_ids  = [aws_security_group.endpoints.id]
  private_dns_enabled = true
  tags                = { Name = "${var.name}-${each.key}" }
}
