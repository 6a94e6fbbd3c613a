//! The SQS and SNS adapters against moto (PyPI `moto[server]`, installed by `scripts/test`),
//! served on 127.0.0.1 through the real AWS SDK clients. These tests never skip: without moto
//! they fail and say how to get it.

use aws_sdk_sqs::types::QueueAttributeName;
use bus_aws::{SnsSms, SnsTopic, SqsQueue};
use chrono::Utc;
use domain::order::{Delivery, Order, OrderEvent, OrderStatus, RejectReason};
use domain::ports::{EventPublisher, OrderQueue, OutgoingMessage, SmsSender};
use domain::{CustomerId, OrderId, Phone};
use moto_server::{Moto, moto};

fn sqs(moto: &Moto) -> aws_sdk_sqs::Client {
    use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
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
    assert_eq!(bodies.len(), 10);
    let eleven: Vec<_> = (0..11).map(|i| message(i, "x")).collect();
    assert!(
        queue.send_batch(&eleven).await.is_err(),
        "more than ten is refused before calling SQS"
    );
}

/// Partial batch failures, as the event source applies `ReportBatchItemFailures`: the
/// messages that succeeded are deleted, the failed one alone comes back, counting a receive.
#[tokio::test(flavor = "multi_thread")]
async fn only_the_failed_message_of_a_batch_comes_back() {
    let moto = moto();
    let client = sqs(&moto);
    let queue = orders_queue(&client, 0).await;
    let batch: Vec<_> = (0..3).map(|i| message(i, &format!("order-{i}"))).collect();
    assert!(queue.send_batch(&batch).await.unwrap().is_empty());
    let got = receive(&client, &queue.queue_url).await;
    assert_eq!(got.len(), 3);
    for m in got.iter().filter(|m| m.body() != Some("order-1")) {
        client
            .delete_message()
            .queue_url(&queue.queue_url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
    }
    let again = client
        .receive_message()
        .queue_url(&queue.queue_url)
        .max_number_of_messages(10)
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
        )
        .send()
        .await
        .unwrap()
        .messages()
        .to_vec();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].body(), Some("order-1"));
    let count = &again[0].attributes().unwrap()
        [&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount];
    assert_eq!(count, "2");
}

#[tokio::test(flavor = "multi_thread")]
async fn redrives_to_the_dlq_after_five_receives() {
    let moto = moto();
    let client = sqs(&moto);
    let queue = orders_queue(&client, 0).await;
    assert!(
        queue
            .send_batch(&[message(0, "poison")])
            .await
            .unwrap()
            .is_empty()
    );
    for attempt in 1..=5 {
        let got = receive(&client, &queue.queue_url).await;
        assert_eq!(got.len(), 1, "receive {attempt}");
    }
    assert!(
        receive(&client, &queue.queue_url).await.is_empty(),
        "the sixth receive finds it gone"
    );
    let dead = receive(&client, &queue.dlq_url).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body(), Some("poison"));
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
