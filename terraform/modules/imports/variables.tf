variable "name" {
  description = "Name prefix of the bucket and the imports queue."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key: the files at rest and both queues."
  type        = string
}

variable "consumer_timeout_seconds" {
  description = "import-catalog's timeout; the queue's visibility timeout is six times it."
  type        = number
}

variable "upload_origins" {
  description = "Origins whose pages may PUT a file to an upload URL (the web page's)."
  type        = list(string)
}

variable "expiration_days" {
  description = "Days an uploaded file is kept (7)."
  type        = number
  default     = 7
}
