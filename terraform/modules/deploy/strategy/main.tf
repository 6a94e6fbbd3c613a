# How CodeDeploy shifts a function's live alias to its new version: pure (no provider), so
# `terraform test` checks the choice offline.

locals {
  configs = {
    # 10 % of the traffic for 5 minutes, then the rest, unless an alarm fires first.
    canary = "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    # Everything at once; the alarms can still roll it back afterwards.
    all-at-once = "CodeDeployDefault.LambdaAllAtOnce"
  }
}
