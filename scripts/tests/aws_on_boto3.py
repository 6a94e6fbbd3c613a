#!/usr/bin/env python3
"""A stand-in for the AWS CLI in scripts/preflight's tests against moto: `SERVICE OPERATION
[--name value]... --output json` becomes the same call through boto3 (the CLI's own library) at
MOTO_URL, its answer printed as the CLI prints it; a service error exits 254 as the CLI does."""
import json
import os
import sys

import boto3
import botocore.exceptions


def main():
    args = [a for a in sys.argv[1:]]
    if "--output" in args:
        at = args.index("--output")
        del args[at:at + 2]
    service, operation, rest = args[0], args[1], args[2:]
    params = {}
    for i in range(0, len(rest), 2):
        key = "".join(part.capitalize() for part in rest[i].lstrip("-").split("-"))
        params[key] = rest[i + 1]
    client = boto3.client(service, endpoint_url=os.environ["MOTO_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    method = getattr(client, operation.replace("-", "_"))
    try:
        answer = method(**params)
    except botocore.exceptions.ClientError as e:
        print(f"An error occurred ({e.response['Error']['Code']}) when calling the {operation} operation", file=sys.stderr)
        return 254
    answer.pop("ResponseMetadata", None)
    print(json.dumps(answer, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
