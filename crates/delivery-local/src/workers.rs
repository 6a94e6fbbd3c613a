//! The event sources of `delivery-local`, as AWS wires them: the orders queue polled in
//! batches of at most 10 into `order-processor` and the imports queue in batches of 1 into
//! `import-catalog` (real `SqsEvent`s, partial batch failures honoured), and the `notify-carrier` subscription delivering each event to `notify-carrier`
//! (real `SnsEvent`s, retried, then dead-lettered). They play the Lambda service too: each
//! invocation runs within the visibility timeout, and the faults of delivery and of the
//! service (`sqs.duplicate`, `lambda.crash`, `lambda.timeout`) strike here.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sns::{MessageAttribute, SnsEvent, SnsMessage, SnsRecord};
use aws_lambda_events::sqs::SqsBatchResponse;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use bus_embedded::{Bus, IMPORTS, MAX_BATCH, NOTIFICATIONS, ORDERS, QueueSpec, Received, Settled};
use composition::App;
use composition::lambda::EventFunction;
use domain::PortError;
use faults::{Fault, Faults};
use import_catalog::ImportCatalog;
use notify_carrier::NotifyCarrier;
use order_processor::Processor;
use reconciler::Reconciler;
use tokio::sync::watch;
use tracing::Instrument;

const TOPIC_ARN: &str = "arn:aws:sns:local:000000000000:order-events";
/// Concurrent pollers of the orders queue, like the event source's maximum concurrency, unless
/// `serve --processor-concurrency` says otherwise.
pub const ORDER_WORKERS: u16 = 4;
const IDLE: Duration = Duration::from_millis(20);

fn sqs_event(batch: &[Received], queue: &str) -> SqsEvent {
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
            message.event_source_arn = Some(format!("arn:aws:sqs:local:000000000000:{queue}"));
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

/// How the event sources deliver: the queues' visibility timeout (which stands for the
/// functions' timeout, as Lambda requires it to be no longer), and the faults of the Lambda
/// service and of delivery (`sqs.duplicate`, `lambda.crash`, `lambda.timeout`).
#[derive(Clone)]
pub struct Delivery {
    pub faults: Arc<Faults>,
    /// `--visibility-timeout`: the orders and notifications queues' visibility timeout, when
    /// given. The imports queue keeps its own: it stands for the importer's timeout (minutes,
    /// for a whole file), and a short one would dead-letter imports still running.
    pub visibility: Option<Duration>,
    /// Concurrent order-processor invocations (`--processor-concurrency`): what a sale's
    /// provisioned pollers give the function in AWS.
    pub processor_concurrency: usize,
    /// How often the reconciler runs (`--reconcile-every`), as EventBridge Scheduler runs it.
    pub reconcile_every: Duration,
}

impl Delivery {
    fn spec(&self, queue: QueueSpec) -> QueueSpec {
        if queue.name == IMPORTS.name {
            return queue;
        }
        QueueSpec {
            visibility_timeout: self.visibility.unwrap_or(queue.visibility_timeout),
            ..queue
        }
    }
}

/// The next batch, or `None` when there is none yet (or on `stop`, which the caller checks).
async fn next_batch(
    bus: &Bus,
    spec: QueueSpec,
    size: usize,
    stop: &mut watch::Receiver<bool>,
) -> Option<Vec<Received>> {
    match bus.receive(spec, size) {
        Ok(batch) if !batch.is_empty() => return Some(batch),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, queue = spec.name, "receiving"),
    }
    idle(stop).await;
    None
}

/// One invocation as the Lambda service runs it: stopped at its timeout, and, when a fault
/// strikes, dying at a random moment (its writes so far stay written) or answering too late.
/// `None`: no answer, so the messages come back after the visibility timeout.
async fn invocation<T>(
    delivery: &Delivery,
    timeout: Duration,
    crashes: bool,
    work: impl Future<Output = T>,
) -> Option<T> {
    let work = retry_policy::within(tokio::time::Instant::now() + timeout, work);
    if crashes && delivery.faults.strike(Fault::LambdaCrash) {
        let dies_after = Duration::from_millis(delivery.faults.pick(50));
        let _ = tokio::time::timeout(dies_after, work).await;
        return None;
    }
    let answer = tokio::time::timeout(timeout, work).await.ok()?;
    (!delivery.faults.strike(Fault::LambdaTimeout)).then_some(answer)
}

/// The messages struck by `sqs.duplicate`: each is delivered a second time, at once.
fn duplicates<'a>(delivery: &Delivery, batch: &'a [Received]) -> Vec<&'a Received> {
    batch
        .iter()
        .filter(|_| delivery.faults.strike(Fault::SqsDuplicate))
        .collect()
}

/// An SQS event source: polls `queue` in batches of at most `size` into `function` until
/// `stop`, and settles each batch by the function's answer (partial batch failures).
async fn sqs_source<F>(
    bus: Bus,
    function: Arc<F>,
    (queue, size): (QueueSpec, usize),
    delivery: Delivery,
    mut stop: watch::Receiver<bool>,
) where
    F: EventFunction<Event = SqsEvent, Output = SqsBatchResponse, Error = Infallible> + App,
{
    let spec = delivery.spec(queue);
    let timeout = spec.visibility_timeout;
    let process = |event: SqsEvent| {
        let work = async {
            match function.handle(event).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        };
        faults::calls::as_function(F::NAME, work)
    };
    while !*stop.borrow() {
        let Some(batch) = next_batch(&bus, spec, size, &mut stop).await else {
            continue;
        };
        // A copy's answer is not the queue's to hear: its delivery was the duplicate.
        let copies = duplicates(&delivery, &batch).into_iter().map(|m| {
            invocation(
                &delivery,
                timeout,
                true,
                process(sqs_event(std::slice::from_ref(m), spec.name)),
            )
        });
        let primary = invocation(
            &delivery,
            timeout,
            true,
            process(sqs_event(&batch, spec.name)),
        );
        let (answer, _) = tokio::join!(primary, futures::future::join_all(copies));
        if let Some(response) = answer {
            settle(&bus, &batch, &response);
        }
    }
}

/// Deletes the processed messages of a batch and hands back the failed ones, in one write.
fn settle(bus: &Bus, batch: &[Received], response: &SqsBatchResponse) {
    let failed: HashSet<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    let settled: Vec<Settled<'_>> = batch
        .iter()
        .map(|message| {
            if failed.contains(message.id.as_str()) {
                Settled::Failed(&message.receipt, "reported as a batch item failure")
            } else {
                Settled::Processed(&message.receipt)
            }
        })
        .collect();
    if let Err(e) = bus.settle(&settled) {
        tracing::error!(error = %e, messages = batch.len(), "settling a batch");
    }
}

/// Delivers the `notify-carrier` subscription, one invocation per event, until `stop`.
async fn notifications(
    bus: Bus,
    notifier: Arc<NotifyCarrier>,
    delivery: Delivery,
    mut stop: watch::Receiver<bool>,
) {
    let spec = delivery.spec(NOTIFICATIONS);
    let timeout = spec.visibility_timeout;
    while !*stop.borrow() {
        let Some(batch) = next_batch(&bus, spec, MAX_BATCH, &mut stop).await else {
            continue;
        };
        let invoke = |m| notify_one(&delivery, &notifier, timeout, m);
        let copies = duplicates(&delivery, &batch).into_iter().map(invoke);
        let (answers, copied) = tokio::join!(
            futures::future::join_all(batch.iter().map(invoke)),
            futures::future::join_all(copies)
        );
        let errors: Vec<(&Received, String)> = answers
            .iter()
            .filter_map(|(m, answer)| match answer {
                Some(Err(e)) => Some((*m, e.to_string())),
                _ => None,
            })
            .collect();
        for (message, error) in &errors {
            tracing::warn!(error = %error, message_id = %message.id, attempt = message.receive_count, "notify-carrier failed; will retry");
        }
        // An invocation that failed, died or timed out after its SMS and before the order's
        // record leaves the SMS's outcome unknown to the retry: the fault layer counts it.
        for (message, answer) in answers.iter().chain(&copied) {
            if !matches!(answer, Some(Ok(())))
                && let Some(order) = notified_order(&message.body)
            {
                delivery.faults.invocation_failed(&order);
            }
        }
        // A stopped invocation leaves its message in flight, as Lambda's would.
        let settled: Vec<Settled<'_>> = answers
            .iter()
            .filter_map(|(m, answer)| {
                answer
                    .as_ref()
                    .filter(|a| a.is_ok())
                    .map(|_| Settled::Processed(&m.receipt))
            })
            .chain(errors.iter().map(|(m, e)| Settled::Failed(&m.receipt, e)))
            .collect();
        if let Err(e) = bus.settle(&settled) {
            tracing::error!(error = %e, messages = settled.len(), "settling notifications");
        }
    }
}

/// One invocation of notify-carrier for `message`, and its answer (`None`: none in time).
async fn notify_one<'m>(
    delivery: &Delivery,
    notifier: &NotifyCarrier,
    timeout: Duration,
    message: &'m Received,
) -> (&'m Received, Option<Result<(), PortError>>) {
    let work = faults::calls::as_function(NotifyCarrier::NAME, notifier.handle(sns_event(message)));
    (message, invocation(delivery, timeout, false, work).await)
}

/// The order an `order.accepted` event is about.
fn notified_order(body: &str) -> Option<String> {
    let event: serde_json::Value = serde_json::from_str(body).ok()?;
    event["order"]["id"].as_str().map(str::to_owned)
}

/// The functions the event sources invoke.
pub struct Functions {
    pub processor: Processor,
    pub notifier: NotifyCarrier,
    pub importer: ImportCatalog,
    pub reconciler: Reconciler,
}

/// EventBridge Scheduler's part: the reconciler every `every`, with the schedule's input. A
/// failed run is not retried (the next run does the same work), as in Terraform.
async fn schedule(reconciler: Reconciler, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        let tick = serde_json::json!({"reconcile": "scheduled"});
        let span = tracing::info_span!("invocation", function = Reconciler::NAME);
        let run = faults::calls::as_function(Reconciler::NAME, reconciler.handle(tick));
        if let Err(e) = run.instrument(span).await {
            tracing::warn!(error = %e, "the reconciler's run failed; the next run tries again");
        }
    }
}

/// The event sources, running until stopped.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// `processor_concurrency` pollers of the orders queue, the notifications subscription,
    /// one poller of the imports queue (batches of 1), and the reconciler's schedule.
    pub fn start(bus: &Bus, functions: Functions, delivery: &Delivery) -> Workers {
        let Functions {
            processor,
            notifier,
            importer,
            reconciler,
        } = functions;
        let (stop, stopping) = watch::channel(false);
        let processor = Arc::new(processor);
        let mut tasks: Vec<_> = (0..delivery.processor_concurrency)
            .map(|_| {
                tokio::spawn(sqs_source(
                    bus.clone(),
                    processor.clone(),
                    (ORDERS, MAX_BATCH),
                    delivery.clone(),
                    stopping.clone(),
                ))
            })
            .collect();
        tasks.push(tokio::spawn(sqs_source(
            bus.clone(),
            Arc::new(importer),
            (IMPORTS, 1),
            delivery.clone(),
            stopping.clone(),
        )));
        tasks.push(tokio::spawn(notifications(
            bus.clone(),
            Arc::new(notifier),
            delivery.clone(),
            stopping.clone(),
        )));
        tasks.push(tokio::spawn(schedule(
            reconciler,
            delivery.reconcile_every,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rehearsals_visibility_timeout_leaves_the_imports_queue_its_own() {
        let delivery = Delivery {
            faults: Arc::new(Faults::new(faults::FaultSpec::none(), 1)),
            visibility: Some(Duration::from_secs(2)),
            processor_concurrency: usize::from(ORDER_WORKERS),
            reconcile_every: Duration::from_secs(300),
        };
        assert_eq!(
            delivery.spec(ORDERS).visibility_timeout,
            Duration::from_secs(2)
        );
        assert_eq!(
            delivery.spec(NOTIFICATIONS).visibility_timeout,
            Duration::from_secs(2)
        );
        assert_eq!(
            delivery.spec(IMPORTS).visibility_timeout,
            IMPORTS.visibility_timeout
        );
        let default = Delivery {
            visibility: None,
            ..delivery
        };
        assert_eq!(
            default.spec(ORDERS).visibility_timeout,
            ORDERS.visibility_timeout
        );
    }
}
