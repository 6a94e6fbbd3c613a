# Every optional part on, for either environment: the user pool is the issuer (no jwt_* or
# jwks* inputs), and the functions that reach data run in a created VPC. scripts/test runs
# checkov on both environments with this file, so these settings stay as clean as the defaults.
# The SES identity is an example: put yours, or drop both e-mail lines (Cognito's own e-mail).
#
#   terraform plan -var-file=../all-options.tfvars -out=tfplan
enable_cognito = true
cognito = {
  integrations     = ["acme", "globex"]
  self_sign_up     = true
  domain_prefix    = ""
  ses_identity_arn = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
  email_from       = "Delivery <no-reply@example.com>"
}
enable_vpc = true
vpc        = null
# A sale planned: warm throughput, provisioned pollers, and scheduled provisioned concurrency.
sale = { start = "2026-11-27T08:00:00Z", end = "2026-11-27T20:00:00Z", peak_orders_per_second = 1000 }
