# Applied once per account by an administrator, with local state (it makes the bucket every
# other state lives in). docs/deploy.md walks through it.
terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      project    = "delivery"
      managed-by = "terraform-bootstrap"
    }
  }
}
