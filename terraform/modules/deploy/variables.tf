variable "name" {
  description = "Name prefix of the CodeDeploy application, its role and the canary alarms."
  type        = string
}

variable "strategy" {
  description = "canary (10 % for 5 minutes, then all) or all-at-once."
  type        = string
}

variable "functions" {
  description = "Every function CodeDeploy shifts: its name, its alias, and its timeout (the latency alarm fires at half of it)."
  type = map(object({
    function_name   = string
    alias_name      = string
    timeout_seconds = number
  }))
}
