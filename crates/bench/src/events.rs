//! The event each function is invoked with in the bench: what Lambda hands it in AWS, built
//! with the same builder as the local gateway (`http_kit::events`) or as SQS and SNS deliver.

use std::collections::HashMap;

use http_kit::events::ProxyEvent;
use serde_json::{Value, json};

/// An API Gateway proxy event for `method path` (of `resource`) from `sub` with `scope`.
pub fn http(
    (method, resource, path): (&str, &str, &str),
    (sub, scope, company): (&str, &str, Option<&str>),
    body: Option<Value>,
) -> Value {
    let mut authorizer: HashMap<String, Value> = HashMap::from([
        ("principalId".to_owned(), json!(sub)),
        ("sub".to_owned(), json!(sub)),
        ("scope".to_owned(), json!(scope)),
    ]);
    if let Some(company) = company {
        authorizer.insert("company_id".to_owned(), json!(company));
    }
    let id = path.rsplit('/').next().unwrap_or_default().to_owned();
    let event = ProxyEvent {
        method: method.parse().unwrap_or_default(),
        path: path.to_owned(),
        resource: resource.to_owned(),
        path_parameters: if resource.contains("{id}") {
            vec![("id".to_owned(), id)]
        } else {
            vec![]
        },
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: body.map(|b| b.to_string()),
        authorizer,
        request_id: uuid::Uuid::new_v4().to_string(),
        stage: "bench".to_owned(),
        ..ProxyEvent::default()
    };
    serde_json::to_value(event.to_event()).unwrap_or_default()
}

/// A TOKEN authorizer event for `token` on a `GET /products` method ARN.
pub fn authorizer(token: &str) -> Value {
    json!({
        "type": "TOKEN",
        "authorizationToken": format!("Bearer {token}"),
        "methodArn": "arn:aws:execute-api:us-east-1:000000000000:bench/bench/GET/products",
    })
}

/// An SQS event of one `order.placed` message for a new order of `customer`.
pub fn order_placed(customer: &str, product: &str) -> (String, Value) {
    let order_id = uuid::Uuid::new_v4().to_string();
    let placed = json!({
        "type": "order.placed", "version": 1, "order_id": order_id, "customer_id": customer,
        "items": [{"product_id": product, "quantity": 1}],
        "delivery": {"address": "1 Bench Street", "phone": "+15551234567"},
        "placed_at": chrono_now(),
    });
    let event = json!({"Records": [{
        "messageId": uuid::Uuid::new_v4().to_string(),
        "receiptHandle": "bench",
        "body": placed.to_string(),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "bench", "ApproximateFirstReceiveTimestamp": "0"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:orders",
        "awsRegion": "us-east-1",
    }]});
    (order_id, event)
}

/// An SNS event carrying an `order.accepted` event for `order` (as `GET /orders/{id}` shows it).
pub fn order_accepted(order: &Value) -> Value {
    let message = json!({"type": "order.accepted", "version": 1, "order": order});
    json!({"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:000000000000:order-events:bench",
        "Sns": {
            "Type": "Notification",
            "MessageId": uuid::Uuid::new_v4().to_string(),
            "TopicArn": "arn:aws:sns:us-east-1:000000000000:order-events",
            "Subject": null,
            "Message": message.to_string(),
            "Timestamp": "2026-11-25T00:00:00.000Z",
            "SignatureVersion": "1",
            "Signature": "",
            "SigningCertUrl": "",
            "UnsubscribeUrl": "",
            "MessageAttributes": {"type": {"Type": "String", "Value": "order.accepted"}},
        },
    }]})
}

fn chrono_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
