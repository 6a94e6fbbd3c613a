variable "strategy" {
  description = "canary (prod: 10 % for 5 minutes first) or all-at-once (dev)."
  type        = string

  validation {
    condition     = contains(["canary", "all-at-once"], var.strategy)
    error_message = "strategy must be \"canary\" or \"all-at-once\"."
  }
}
