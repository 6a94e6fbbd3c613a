variable "name" {
  description = "Name prefix of the CodeDeploy application, its role and the canary alarms."
  type        = string
}

variable "strategy" {
  description = "canary (10 % for 5 minutes, then all) or all-at-once."
  type        = string
}

variable "functions" {
  description = "Every function CodeDeploy shifts: its name, its alias, the version the apply published (the alarms watch it), its timeout (the latency alarm fires at half of it), and whether its every Lambda error is a fault."
  type = map(object({
    function_name     = string
    alias_name        = string
    version           = string
    timeout_seconds   = number
    errors_are_faults = bool
  }))
}
