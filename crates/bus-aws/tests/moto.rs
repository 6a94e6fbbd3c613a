//! The SQS and SNS adapters through their own methods, with the real AWS SDK clients: against
//! moto (PyPI `moto[server]`, installed by `scripts/test`) on 127.0.0.1, and, where moto cannot
//! produce an answer AWS gives (a batch partly refused), against that answer as AWS documents
//! it. These tests never skip: without moto they fail and say how to get it.

use aws_sdk_sqs::types::QueueAttributeName;
use bus_aws::{SnsSms, SnsTopic, SqsQueue};
use chrono::Utc;
use domain::order::{Delivery, Order, OrderEvent, OrderStatus, RejectReason};
use domain::ports::{EventPublisher, OrderQueue, OutgoingMessage, SmsSender};
use domain::{CustomerId, OrderId, Phone};
use moto_server::{Moto, moto};

fn sqs(moto: &Moto) -> aws_sdk_sqs::Client {
    sqs_at(&moto.endpoint)
}

fn sqs_at(endpoint: &str) -> aws_sdk_sqs::Client {
    use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

fn sns(moto: &Moto) -> aws_sdk_sns::Client {
    use aws_sdk_sns::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> String {
    let mut request = client.create_queue().queue_name(name);
    for (k, v) in attributes {
        request = request.attributes(k.clone(), v);
    }
    request
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned()
}

async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> String {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    out.attributes().unwrap()[&QueueAttributeName::QueueArn].clone()
}

async fn receive(client: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap()
        .messages()
        .to_vec()
}

/// The orders queue with its DLQ and redrive policy, as Terraform creates them.
async fn orders_queue(client: &aws_sdk_sqs::Client, visibility: u32) -> SqsQueue {
    let dlq_url = create_queue(client, "orders-dlq", &[]).await;
    let dlq_arn = queue_arn(client, &dlq_url).await;
    let policy = format!(r#"{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": "5"}}"#);
    let queue_url = create_queue(
        client,
        "orders",
        &[
            (QueueAttributeName::RedrivePolicy, policy),
            (
                QueueAttributeName::VisibilityTimeout,
                visibility.to_string(),
            ),
        ],
    )
    .await;
    SqsQueue {
        client: client.clone(),
        queue_url,
        dlq_url,
    }
}

fn message(i: usize, body: &str) -> OutgoingMessage {
    OutgoingMessage {
        id: format!("m{i}"),
        body: body.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sends_batches_of_ten() {
    let moto = moto();
    let client = sqs(&moto);
    let queue = orders_queue(&client, 30).await;
    let batch: Vec<_> = (0..10)
        .map(|i| message(i, &format!("{{\"n\": {i}}}")))
        .collect();
    assert!(queue.send_batch(&batch).await.unwrap().is_empty());
    let mut bodies = Vec::new();
    while bodies.len() < 10 {
        let got = receive(&client, &queue.queue_url).await;
        assert!(!got.is_empty(), "all ten arrive");
        bodies.extend(got.iter().map(|m| m.body().unwrap().to_owned()));
    }
    bodies.sort();
    let mut sent: Vec<String> = batch.iter().map(|m| m.body.clone()).collect();
    sent.sort();
    assert_eq!(bodies, sent, "each body arrives once, as sent");
    let eleven: Vec<_> = (0..11).map(|i| message(i, "x")).collect();
    assert!(
        queue.send_batch(&eleven).await.is_err(),
        "more than ten is refused before calling SQS"
    );
}

/// An SQS endpoint that answers every request with `body` (AWS JSON 1.0, as SQS answers the
/// SDK), and hands back the request bodies it read. moto reports no per-message failure for
/// the batches this adapter sends, so the documented answer is given here instead.
fn canned_sqs(body: &'static str) -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (requests, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let mut reader = BufReader::new(conn);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut request = vec![0; length];
            let _ = reader.read_exact(&mut request);
            let _ = requests.send(String::from_utf8_lossy(&request).into_owned());
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = reader.get_mut().write_all(answer.as_bytes());
        }
    });
    (endpoint, received)
}

/// A batch SQS partly refuses (`SendMessageBatch`'s `Failed` entries, in the shape of its API
/// reference's `BatchResultErrorEntry`): the adapter reports each refused message by its id,
/// a sender fault as permanent (the same body fails again) and a service fault as transient.
#[tokio::test(flavor = "multi_thread")]
async fn a_partly_refused_batch_reports_each_refused_message() {
    let (endpoint, requests) = canned_sqs(
        r#"{"Successful": [{"Id": "m0", "MessageId": "5fea7756-0ea4-451a-a703-a558b933e274", "MD5OfMessageBody": "fafb00f5732ab283681e124bf8747ed1"}],
            "Failed": [{"Id": "m1", "SenderFault": true, "Code": "InvalidParameterValue", "Message": "Message must be shorter than 262144 bytes."},
                       {"Id": "m2", "SenderFault": false, "Code": "InternalError", "Message": "We encountered an internal error."}]}"#,
    );
    let queue = SqsQueue {
        client: sqs_at(&endpoint),
        queue_url: format!("{endpoint}/123456789012/orders"),
        dlq_url: format!("{endpoint}/123456789012/orders-dlq"),
    };
    let batch: Vec<_> = (0..3).map(|i| message(i, &format!("order-{i}"))).collect();
    let failures = queue.send_batch(&batch).await.unwrap();
    let got: Vec<(&str, bool)> = failures
        .iter()
        .map(|f| (f.id.as_str(), f.transient))
        .collect();
    assert_eq!(got, [("m1", false), ("m2", true)]);
    assert!(
        failures[0]
            .reason
            .starts_with("InvalidParameterValue: Message must be shorter")
    );
    // What was asked of SQS: every message, by its id, to the queue's URL.
    let request: serde_json::Value = serde_json::from_str(&requests.recv().unwrap()).unwrap();
    assert_eq!(request["QueueUrl"], queue.queue_url);
    let entries: Vec<(&str, &str)> = request["Entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["Id"].as_str().unwrap(),
                e["MessageBody"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [("m0", "order-0"), ("m1", "order-1"), ("m2", "order-2")]
    );
    // No call for nothing.
    assert!(queue.send_batch(&[]).await.unwrap().is_empty());
    assert!(requests.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_carry_their_reason() {
    let moto = moto();
    let client = sqs(&moto);
    let queue = orders_queue(&client, 30).await;
    queue
        .dead_letter("{not json", "body is not JSON: EOF")
        .await
        .unwrap();
    let dead = receive(&client, &queue.dlq_url).await;
    assert_eq!(dead[0].body(), Some("{not json"));
    let reason = dead[0].message_attributes().unwrap()["reason"]
        .string_value()
        .unwrap();
    assert_eq!(reason, "body is not JSON: EOF");
    queue.dead_letter("", "empty").await.unwrap();
}

fn order(status: OrderStatus) -> Order {
    let customer = CustomerId::parse("alice").unwrap();
    Order {
        id: OrderId::for_request(&customer, None),
        customer_id: customer,
        lines: vec![],
        total: None,
        delivery: Delivery {
            address: "1 Main St".into(),
            phone: Phone::parse("+15551234567").unwrap(),
        },
        status,
        reason: (status == OrderStatus::Rejected).then_some(RejectReason::OutOfStock),
        carrier: None,
        created_at: Utc::now(),
        recorded_at: None,
        announced_at: None,
        texted_at: None,
        dispatched_at: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn publishes_events_with_the_type_attribute_the_subscription_filters_on() {
    let moto = moto();
    let (sqs, sns) = (sqs(&moto), sns(&moto));
    let topic_arn = sns
        .create_topic()
        .name("order-events")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    let url = create_queue(&sqs, "notify", &[]).await;
    let arn = queue_arn(&sqs, &url).await;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(arn)
        .attributes("FilterPolicy", r#"{"type": ["order.accepted"]}"#)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    let topic = SnsTopic {
        client: sns,
        topic_arn,
    };
    let accepted = order(OrderStatus::Accepted);
    topic
        .publish(&OrderEvent::for_order(&accepted))
        .await
        .unwrap();
    topic
        .publish(&OrderEvent::for_order(&order(OrderStatus::Rejected)))
        .await
        .unwrap();
    let got = receive(&sqs, &url).await;
    assert_eq!(got.len(), 1, "only order.accepted passes the filter");
    let event: OrderEvent = serde_json::from_str(got[0].body().unwrap()).unwrap();
    assert_eq!(event.order.id, accepted.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn sends_transactional_sms() {
    let moto = moto();
    let sms = SnsSms { client: sns(&moto) };
    let id = order(OrderStatus::Accepted).id;
    sms.send(
        &Phone::parse("+15550100001").unwrap(),
        "Order x: 2 items",
        id,
    )
    .await
    .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let data: serde_json::Value = serde_json::from_str(
        &agent
            .get(format!("{}/moto-api/data.json", moto.endpoint))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    let text = data["sns"].to_string();
    assert!(
        text.contains("+15550100001") && text.contains("Order x: 2 items"),
        "moto recorded the SMS: {text}"
    );
}
