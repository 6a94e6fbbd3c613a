variable "name" {
  description = "Name prefix of the VPC's resources."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the flow logs."
  type        = string
}

variable "log_retention_days" {
  description = "Days the VPC's flow logs are kept."
  type        = number
}

variable "cidr_block" {
  description = "The VPC's address range, when this module creates the VPC."
  type        = string
  default     = "10.42.0.0/16"
}

variable "existing" {
  description = "A VPC of your own and two or more of its private subnets, in different AZs (null: this module creates them). Their route tables get the gateway endpoints."
  type = object({
    vpc_id          = string
    subnet_ids      = list(string)
    route_table_ids = list(string)
  })
  default = null

  validation {
    condition     = var.existing == null ? true : length(var.existing.subnet_ids) >= 2
    error_message = "existing.subnet_ids must name at least two subnets, in different AZs."
  }
}
