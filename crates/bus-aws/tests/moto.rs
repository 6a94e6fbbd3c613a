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
    sns_at(&moto.endpoint)
}

fn sns_at(endpoint: &str) -> aws_sdk_sns::Client {
    use aws_sdk_sns::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
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
    let (endpoint, captured) = canned("application/x-amz-json-1.0", body);
    let (bodies, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for request in captured {
            let _ = bodies.send(request.body);
        }
    });
    (endpoint, received)
}

/// A request as the canned server read it: its header lines (lower-cased names) and body.
struct Captured {
    headers: Vec<(String, String)>,
    body: String,
}

/// A server on 127.0.0.1 that answers every request 200 with `body` (of `content_type`), and
/// hands back each request it read.
fn canned(
    content_type: &'static str,
    body: &'static str,
) -> (String, std::sync::mpsc::Receiver<Captured>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (requests, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let mut reader = BufReader::new(conn);
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
                }
            }
            let length = headers
                .iter()
                .find(|(name, _)| name == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut request = vec![0; length];
            let _ = reader.read_exact(&mut request);
            let read = String::from_utf8_lossy(&request).into_owned();
            let _ = requests.send(Captured {
                headers,
                body: read,
            });
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
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

/// An order's event is published in the order's own X-Ray trace when its handler has one
/// (`telemetry::trace`): the SDK would send the invocation's (a batch's), and SNS passes the
/// `X-Amzn-Trace-Id` of a `Publish` on to the subscriber (a topic's `PassThrough` tracing,
/// its default). Without one, the SDK's own (the invocation's, in Lambda) is left alone.
#[tokio::test(flavor = "multi_thread")]
async fn an_event_is_published_in_its_order_s_trace() {
    let (endpoint, requests) = canned(
        "text/xml",
        r#"<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId></PublishResult><ResponseMetadata><RequestId>f187a3c1-376f-11df-8963-01868b7c937a</RequestId></ResponseMetadata></PublishResponse>"#,
    );
    let topic = SnsTopic {
        client: sns_at(&endpoint),
        topic_arn: "arn:aws:sns:us-east-1:123456789012:order-events".to_owned(),
    };
    let event = OrderEvent::for_order(&order(OrderStatus::Accepted));
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    telemetry::trace::within(Some(header.to_owned()), topic.publish(&event))
        .await
        .unwrap();
    let traced = requests.recv().unwrap();
    let sent: Vec<&str> = traced
        .headers
        .iter()
        .filter(|(name, _)| name == bus_aws::TRACE_HEADER)
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(sent, [header]);
    assert!(traced.body.contains("Action=Publish"), "{}", traced.body);
    topic.publish(&event).await.unwrap();
    let untraced = requests.recv().unwrap();
    assert!(
        !untraced
            .headers
            .iter()
            .any(|(name, _)| name == bus_aws::TRACE_HEADER),
        "outside Lambda and outside an order's trace, no header: {:?}",
        untraced.headers
    );
}
