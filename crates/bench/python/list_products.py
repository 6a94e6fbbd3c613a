"""The baseline `bench functions --python` measures list-products against: the same work in
Python 3 with boto3, under the same Runtime API emulator (awslambdaric is the runtime client
AWS's own Python images use). One DynamoDB read of the product the event names, answered as
API Gateway's proxy integration expects. The client is made at import, during init, as Python
functions are written; boto3 trusts the run's authority through AWS_CA_BUNDLE, the bench sets
it to the file the Rust functions get as SSL_CERT_FILE.
"""

import json
import os

import boto3

TABLE = os.environ["PRODUCTS_TABLE"]
DYNAMODB = boto3.client("dynamodb")


def plain(value):
    """An attribute value without its DynamoDB type tag (numbers as their exact text)."""
    (tag, inner), = value.items()
    if tag == "M":
        return {k: plain(v) for k, v in inner.items()}
    if tag == "L":
        return [plain(v) for v in inner]
    return inner


def handler(event, _context):
    product_id = (event.get("pathParameters") or {}).get("id", "")
    item = DYNAMODB.get_item(TableName=TABLE, Key={"id": {"S": product_id}}, ConsistentRead=False).get("Item")
    if item is None:
        return {"statusCode": 404, "headers": {"content-type": "application/problem+json"},
                "body": json.dumps({"title": "no such product", "status": 404})}
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({k: plain(v) for k, v in item.items()})}
