//! `order-processor`: consumes the `orders` queue (ARCHITECTURE.md, "The order pipeline"). Each message of a batch is
//! processed concurrently and on its own:
//! - malformed or schema-invalid: dead-lettered at once with the reason (never retried, never
//!   holding up the batch);
//! - valid: priced against the catalog, then recorded in one atomic write that reserves the
//!   stock of every line (accepted) or touches none (rejected, with the reason);
//! - the `order.accepted` / `order.rejected` event is published, again on a redelivery (an
//!   event may repeat; it is never lost);
//! - a transient failure (a throttle, a transaction conflict, an unknown outcome) is retried
//!   inside the invocation with exponential backoff and full jitter (`retry-policy`); what still
//!   fails is a batch item failure: the queue retries that message alone, and after
//!   `maxReceiveCount` moves it to the DLQ.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use composition::lambda::EventFunction;
use composition::{Adapters, App};
use domain::PortError;
use domain::order::{Order, OrderEvent, OrderPlaced};
use domain::ports::{Catalog, EventPublisher, OrderQueue, OrderStore, RecordOutcome};
use retry_policy::PIPELINE;
use settings::ConfigError;
use telemetry::{Unit, count, record};
use tracing::Instrument;

pub struct Processor {
    pub catalog: Arc<dyn Catalog>,
    pub orders: Arc<dyn OrderStore>,
    pub queue: Arc<dyn OrderQueue>,
    pub events: Arc<dyn EventPublisher>,
}

impl App for Processor {
    const NAME: &'static str = "order-processor";

    async fn new(adapters: &Adapters) -> Result<Processor, ConfigError> {
        Ok(Processor {
            catalog: adapters.catalog().await?,
            orders: adapters.order_store().await?,
            queue: adapters.order_queue().await?,
            events: adapters.events().await?,
        })
    }
}

/// The handler, as Lambda and `delivery-local` call it: the messages to retry, by id.
impl EventFunction for Processor {
    type Event = SqsEvent;
    type Output = SqsBatchResponse;
    type Error = Infallible;

    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, Infallible> {
        let results = futures::future::join_all(event.records.iter().map(|m| {
            let message_id = m.message_id.as_deref().unwrap_or_default();
            let span =
                tracing::info_span!("message", %message_id, order_id = tracing::field::Empty);
            // The order's own trace (its sender's, carried by SQS), for what it publishes.
            let trace = m.attributes.get("AWSTraceHeader").cloned();
            telemetry::trace::within(trace, process(self, m)).instrument(span)
        }))
        .await;
        let mut response = SqsBatchResponse::default();
        for (message, result) in event.records.iter().zip(results) {
            let message_id = message.message_id.clone().unwrap_or_default();
            if let Err(e) = result {
                if give_up(self, message, &e).await {
                    continue;
                }
                tracing::warn!(%message_id, error = %e, transient = e.is_transient(), "message will be retried");
                response.add_failure(message_id);
            }
        }
        Ok(response)
    }
}

/// The orders queue's `maxReceiveCount` (`modules/delivery`: `max_receive_count = 5`, which the
/// wiring check holds; `delivery-local`'s orders queue the same).
pub const MAX_RECEIVES: u32 = 5;

/// On its last receive, a message that failed again goes to the dead-letter queue from here,
/// with the reason, rather than bare by SQS's redrive (which keeps no reason). `false` when it
/// is not the last receive, or when the dead-lettering failed too (SQS's redrive then moves it).
async fn give_up(app: &Processor, message: &SqsMessage, error: &PortError) -> bool {
    let receives = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(1);
    if receives < MAX_RECEIVES {
        return false;
    }
    let body = message.body.as_deref().unwrap_or_default();
    let reason = format!("gave up after {receives} receives: {error}");
    let dead = PIPELINE
        .run("dead-letter", PortError::is_transient, || {
            app.queue.dead_letter(body, &reason)
        })
        .await;
    match dead {
        Ok(()) => {
            tracing::error!(%reason, "a valid order dead-lettered");
            count(telemetry::metric::ORDERS_DEAD_LETTERED);
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "could not dead-letter; the queue's redrive will");
            false
        }
    }
}

async fn process(app: &Processor, message: &SqsMessage) -> Result<(), PortError> {
    let body = message.body.as_deref().unwrap_or_default();
    let (placed, basket) = match OrderPlaced::parse(body) {
        Ok(parsed) => parsed,
        Err(reason) => {
            PIPELINE
                .run("dead-letter", PortError::is_transient, || {
                    app.queue.dead_letter(body, &reason)
                })
                .await?;
            tracing::warn!(%reason, "malformed message dead-lettered");
            count(telemetry::metric::ORDERS_DEAD_LETTERED);
            return Ok(());
        }
    };
    let order_id = placed.order_id;
    tracing::Span::current().record("order_id", order_id.to_string());
    let ids = basket.product_ids();
    let products = PIPELINE
        .run("read the products", PortError::is_transient, || {
            app.catalog.get_many(&ids)
        })
        .await?;
    let catalog: HashMap<_, _> = products.into_iter().map(|p| (p.id.clone(), p)).collect();
    let proposal = Order {
        recorded_at: Some(Utc::now()),
        ..Order::decide(&placed, &basket, &catalog)
    };
    // A conflict or a throttle is retried here, at once, rather than after a whole visibility
    // timeout; a retry after an unknown outcome finds the order recorded and reads it back.
    let outcome = PIPELINE
        .run("record the order", PortError::is_transient, || {
            app.orders.record(&proposal)
        })
        .await?;
    let event = OrderEvent::for_order(outcome.order());
    PIPELINE
        .run("publish the event", PortError::is_transient, || {
            app.events.publish(&event)
        })
        .await?;
    report(&outcome, &placed);
    Ok(())
}

/// Counts a processed order and says how it went, with the time from its 202.
fn report(outcome: &RecordOutcome, placed: &OrderPlaced) {
    let order = outcome.order();
    match outcome {
        RecordOutcome::Accepted(_) => count(telemetry::metric::ORDERS_ACCEPTED),
        RecordOutcome::Rejected(_) => count(telemetry::metric::ORDERS_REJECTED),
        RecordOutcome::AlreadyRecorded(_) => {}
    }
    let latency = (Utc::now() - placed.placed_at()).num_milliseconds().max(0);
    record(
        telemetry::metric::PROCESSING_LATENCY,
        latency as f64,
        Unit::Milliseconds,
    );
    tracing::info!(
        status = order.status.as_str(),
        reason = order.reason.map(|r| r.as_str()),
        redelivery = matches!(outcome, RecordOutcome::AlreadyRecorded(_)),
        latency_ms = latency,
        "order processed"
    );
}
