variable "name" {
  description = "Prefix of the bucket and distribution names."
  type        = string
}

variable "price_class" {
  description = "CloudFront price class (which edge locations serve the page)."
  type        = string
  default     = "PriceClass_100"
}
