//! The event sources of `delivery-local`, as AWS wires them: the orders queue polled in
//! batches of at most 10 into `order-processor` (real `SqsEvent`s, partial batch failures
//! honoured), and the `notify-carrier` subscription delivering each event to `notify-carrier`
//! (real `SnsEvent`s, retried, then dead-lettered).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sns::{MessageAttribute, SnsEvent, SnsMessage, SnsRecord};
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use bus_embedded::{Bus, MAX_BATCH, NOTIFICATIONS, ORDERS, Received};
use composition::lambda::EventFunction;
use notify_carrier::NotifyCarrier;
use order_processor::Processor;
use tokio::sync::watch;

const QUEUE_ARN: &str = "arn:aws:sqs:local:000000000000:orders";
const TOPIC_ARN: &str = "arn:aws:sns:local:000000000000:order-events";
/// Concurrent pollers of the orders queue, like the event source's maximum concurrency.
pub const ORDER_WORKERS: usize = 4;
const IDLE: Duration = Duration::from_millis(20);

fn sqs_event(batch: &[Received]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = batch
        .iter()
        .map(|m| {
            let mut message = SqsMessage::default();
            message.message_id = Some(m.id.clone());
            message.receipt_handle = Some(m.receipt.clone());
            message.body = Some(m.body.clone());
            message.attributes = HashMap::from([
                (
                    "ApproximateReceiveCount".to_owned(),
                    m.receive_count.to_string(),
                ),
                ("SentTimestamp".to_owned(), m.sent_at_ms.to_string()),
            ]);
            message.event_source = Some("aws:sqs".to_owned());
            message.event_source_arn = Some(QUEUE_ARN.to_owned());
            message.aws_region = Some("local".to_owned());
            message
        })
        .collect();
    event
}

fn sns_event(m: &Received) -> SnsEvent {
    let mut sns = SnsMessage::default();
    sns.sns_message_type = "Notification".to_owned();
    sns.message_id = m.id.clone();
    sns.topic_arn = TOPIC_ARN.to_owned();
    sns.timestamp = chrono::DateTime::from_timestamp_millis(m.sent_at_ms).unwrap_or_default();
    sns.signature_version = "1".to_owned();
    sns.message = m.body.clone();
    sns.message_attributes = m
        .attributes
        .iter()
        .map(|(k, v)| {
            let mut attribute = MessageAttribute::default();
            attribute.data_type = "String".to_owned();
            attribute.value = v.clone();
            (k.clone(), attribute)
        })
        .collect();
    let mut record = SnsRecord::default();
    record.event_source = "aws:sns".to_owned();
    record.event_version = "1.0".to_owned();
    record.event_subscription_arn = format!("{TOPIC_ARN}:notify-carrier");
    record.sns = sns;
    let mut event = SnsEvent::default();
    event.records = vec![record];
    event
}

async fn idle(stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(IDLE) => false,
        _ = stop.changed() => true,
    }
}

/// Polls the orders queue into `order-processor` until `stop`.
async fn orders(bus: Bus, processor: Arc<Processor>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let batch = match bus.receive(ORDERS, MAX_BATCH) {
            Ok(batch) if !batch.is_empty() => batch,
            Ok(_) => {
                if idle(&mut stop).await {
                    break;
                }
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "receiving from the orders queue");
                if idle(&mut stop).await {
                    break;
                }
                continue;
            }
        };
        let response = match processor.handle(sqs_event(&batch)).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let failed: HashSet<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        for message in &batch {
            let result = if failed.contains(message.id.as_str()) {
                bus.fail(&message.receipt, "reported as a batch item failure")
            } else {
                bus.delete(&message.receipt).map(|_| ())
            };
            if let Err(e) = result {
                tracing::error!(error = %e, message_id = %message.id, "acknowledging a message");
            }
        }
    }
}

/// Delivers the `notify-carrier` subscription, one invocation per event, until `stop`.
async fn notifications(bus: Bus, notifier: Arc<NotifyCarrier>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let batch = match bus.receive(NOTIFICATIONS, MAX_BATCH) {
            Ok(batch) if !batch.is_empty() => batch,
            other => {
                if let Err(e) = other {
                    tracing::error!(error = %e, "receiving notifications");
                }
                if idle(&mut stop).await {
                    break;
                }
                continue;
            }
        };
        let invocations = batch.iter().map(|m| {
            let notifier = Arc::clone(&notifier);
            async move { (m, notifier.handle(sns_event(m)).await) }
        });
        for (message, result) in futures::future::join_all(invocations).await {
            let ack = match result {
                Ok(()) => bus.delete(&message.receipt).map(|_| ()),
                Err(e) => {
                    tracing::warn!(error = %e, message_id = %message.id, attempt = message.receive_count, "notify-carrier failed; will retry");
                    bus.fail(&message.receipt, &e.to_string())
                }
            };
            if let Err(e) = ack {
                tracing::error!(error = %e, message_id = %message.id, "acknowledging a notification");
            }
        }
    }
}

/// The event sources, running until stopped.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// [`ORDER_WORKERS`] pollers of the orders queue, and the notifications subscription.
    pub fn start(bus: &Bus, processor: Processor, notifier: NotifyCarrier) -> Workers {
        let (stop, stopping) = watch::channel(false);
        let processor = Arc::new(processor);
        let mut tasks: Vec<_> = (0..ORDER_WORKERS)
            .map(|_| tokio::spawn(orders(bus.clone(), processor.clone(), stopping.clone())))
            .collect();
        tasks.push(tokio::spawn(notifications(
            bus.clone(),
            Arc::new(notifier),
            stopping,
        )));
        Workers { stop, tasks }
    }

    /// Lets each finish the batch in hand: what it has not acknowledged is redelivered.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
