//! `notify-carrier`: on `order.accepted` (ARCHITECTURE.md, "The order pipeline"), picks an active carrier deterministically
//! from the order id, sends it the order by SMS, and marks the order dispatched. Any failure
//! fails the invocation, so it is retried and what still fails lands in the notifications DLQ.
//! An order already dispatched is not texted again, and two deliveries of one event (even at
//! once) send one SMS: each delivery attempt claims the order under its own id, releases the
//! claim when it fails before texting, and retries while another attempt holds it. An attempt
//! that texted and could not record it leaves the carrier on its claim, and the retry records
//! the order dispatched instead of texting again.

use std::future::Future;
use std::sync::Arc;

use aws_lambda_events::sns::SnsEvent;
use chrono::{DateTime, Utc};
use composition::lambda::EventFunction;
use composition::{Adapters, App};
use domain::carrier::{Carrier, carriers_in_turn};
use domain::order::{CarrierRef, EventType, Order, OrderEvent, OrderStatus};
use domain::ports::{Carriers, Claim, OrderStore, SmsSender};
use domain::sms::carrier_sms;
use domain::{OrderId, PortError};
use lambda_runtime::Diagnostic;
use retry_policy::PIPELINE;
use settings::ConfigError;
use tracing::Instrument;

/// How long a claim to notify the carrier holds before another delivery may take over, when
/// the invocation's deadline is not known.
const CLAIM_LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// How long a claim holds once its SMS is out but the order could not be marked dispatched:
/// longer than Lambda retries an asynchronous event (the function's maximum event age is six
/// hours in Terraform, and its two retries come one and two minutes apart). The claim also
/// records the carrier texted, so a retry records the order instead of texting again.
pub const TEXTED_LEASE: chrono::Duration = chrono::Duration::hours(7);

pub struct NotifyCarrier {
    pub orders: Arc<dyn OrderStore>,
    pub carriers: Arc<dyn Carriers>,
    pub sms: Arc<dyn SmsSender>,
}

impl App for NotifyCarrier {
    const NAME: &'static str = "notify-carrier";

    async fn new(adapters: &Adapters) -> Result<NotifyCarrier, ConfigError> {
        Ok(NotifyCarrier {
            orders: adapters.order_store().await?,
            carriers: adapters.carriers().await?,
            sms: adapters.sms().await?,
        })
    }
}

/// The handler, as Lambda and `delivery-local` call it. An error fails the invocation.
impl EventFunction for NotifyCarrier {
    type Event = SnsEvent;
    type Output = ();
    type Error = PortError;

    async fn handle(&self, event: SnsEvent) -> Result<(), PortError> {
        for record in &event.records {
            let message_id = &record.sns.message_id;
            let span =
                tracing::info_span!("message", %message_id, order_id = tracing::field::Empty);
            notify(self, message_id, &record.sns.message, record.sns.timestamp)
                .instrument(span)
                .await?;
        }
        Ok(())
    }

    /// A transient failure is a delivery Lambda retries (twice, then the notifications DLQ,
    /// whose alarm fires): expected under load, not a fault of this version.
    fn is_fault(error: &PortError) -> bool {
        !error.is_transient()
    }

    /// Lambda's async invoke retries either kind; the type says which it was.
    fn diagnostic(error: &PortError) -> Diagnostic {
        let kind = if error.is_transient() {
            "Transient"
        } else {
            "Permanent"
        };
        Diagnostic {
            error_type: kind.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// A port call, with transient failures retried inside the invocation.
async fn retried<T, Fut>(what: &str, call: impl FnMut() -> Fut) -> Result<T, PortError>
where
    Fut: Future<Output = Result<T, PortError>>,
{
    PIPELINE.run(what, PortError::is_transient, call).await
}

/// The order an `order.accepted` event announces; `None` for any other event.
fn accepted_order(message_id: &str, message: &str) -> Result<Option<OrderId>, PortError> {
    let event: OrderEvent = serde_json::from_str(message).map_err(|e| {
        PortError::Permanent(format!("message {message_id} is not an order event: {e}"))
    })?;
    if event.kind != EventType::OrderAccepted {
        tracing::info!(
            kind = event.kind.as_str(),
            "not an accepted order; nothing to do"
        );
        return Ok(None);
    }
    Ok(Some(event.order.id))
}

/// Texts the carrier of the order `message` announces (published at `announced_at`).
async fn notify(
    app: &NotifyCarrier,
    message_id: &str,
    message: &str,
    announced_at: DateTime<Utc>,
) -> Result<(), PortError> {
    let Some(order_id) = accepted_order(message_id, message)? else {
        return Ok(());
    };
    tracing::Span::current().record("order_id", order_id.to_string());
    let order = retried("read the order", || app.orders.get(order_id))
        .await?
        .ok_or_else(|| PortError::Transient(format!("order {order_id} not readable yet")))?;
    if order.status != OrderStatus::Accepted {
        tracing::info!(status = order.status.as_str(), "already handled; no SMS");
        return Ok(());
    }
    // Unique to this delivery attempt: two deliveries of one message (SQS and SNS are at least
    // once, and may overlap) never both hold the claim.
    let claimant = uuid::Uuid::new_v4().to_string();
    match claim(app, order_id, &claimant, announced_at).await? {
        Turn::Mine => {}
        Turn::Done => {
            tracing::info!("dispatched by another delivery; no second SMS");
            return Ok(());
        }
        Turn::Texted(carrier) => {
            tracing::info!(carrier = %carrier.id, "texted by an earlier delivery; recording it, no second SMS");
            // The earlier delivery's hold kept when it texted; now stands only if it did not.
            return record_dispatch(app, order_id, &carrier, Utc::now()).await;
        }
    }
    match text_carrier(app, &order).await {
        Ok(()) => Ok(()),
        Err(Failure::BeforeSms(e)) => {
            // Nothing was sent: let the retry claim the order at once.
            let _ = app.orders.release_dispatch_claim(order_id, &claimant).await;
            Err(e)
        }
        // The SMS is out: the claim records it and is held past every retry of the event, so
        // a retry records the order dispatched instead of texting again. Only if that write
        // fails too can a retry repeat the SMS.
        Err(Failure::AfterSms(carrier, e)) => {
            let held = retried("record the SMS on the claim", || {
                app.orders
                    .hold_texted(order_id, &claimant, &carrier, Utc::now(), TEXTED_LEASE)
            })
            .await;
            if let Err(hold) = held {
                tracing::error!(error = %hold, "texted, but neither recorded nor held: a retry may text again");
            }
            Err(e)
        }
    }
}

/// Where notifying the carrier failed.
enum Failure {
    BeforeSms(PortError),
    /// The SMS went out through this carrier; recording the order dispatched failed.
    AfterSms(CarrierRef, PortError),
}

/// What a delivery attempt finds when it claims the order.
enum Turn {
    /// The claim is this attempt's: it texts the carrier.
    Mine,
    /// Another delivery dispatched the order: nothing to do.
    Done,
    /// An earlier delivery texted this carrier and could not record it: record it, text
    /// nothing.
    Texted(CarrierRef),
}

/// Claims the order for this delivery attempt. While another attempt holds the claim without
/// having dispatched or texted the order, it waits (retried) for that attempt to finish or
/// give the claim up; past the retries it fails, to be delivered again, so an SMS is never
/// lost to a claimant that failed.
async fn claim(
    app: &NotifyCarrier,
    order_id: OrderId,
    claimant: &str,
    announced_at: DateTime<Utc>,
) -> Result<Turn, PortError> {
    retried("claim the order", || async {
        // The claim runs out when this invocation does (Lambda stops it at its timeout), so
        // that a retry after a stopped invocation finds it free: the time left, at each try.
        let lease = retry_policy::remaining()
            .and_then(|left| chrono::Duration::from_std(left).ok())
            .unwrap_or(CLAIM_LEASE);
        let claim = app
            .orders
            .claim_dispatch(order_id, claimant, Utc::now(), lease, announced_at)
            .await?;
        if claim == Claim::Taken {
            return Ok(Turn::Mine);
        }
        if let Some(order) = app.orders.get(order_id).await?
            && order.status == OrderStatus::Dispatched
        {
            return Ok(Turn::Done);
        }
        match app.orders.texted(order_id).await? {
            Some(carrier) => Ok(Turn::Texted(carrier)),
            None => Err(PortError::Transient(format!(
                "another delivery is notifying the carrier of order {order_id}"
            ))),
        }
    })
    .await
}

/// Marks the order dispatched through `carrier`, retried.
async fn record_dispatch(
    app: &NotifyCarrier,
    order_id: OrderId,
    carrier: &CarrierRef,
    texted_at: DateTime<Utc>,
) -> Result<(), PortError> {
    retried("mark the order dispatched", || {
        app.orders
            .mark_dispatched(order_id, carrier, texted_at, Utc::now())
    })
    .await?;
    telemetry::count(telemetry::metric::ORDERS_DISPATCHED);
    tracing::info!(carrier = %carrier.id, "carrier notified, order dispatched");
    Ok(())
}

/// Texts the carriers in turn (the one picked for the order first) until one's number takes
/// the SMS. A number refused for good (opted out: a permanent error) passes the order to the
/// next carrier; a transient failure fails the delivery, to be retried with the same carrier.
async fn text_first_willing<'a>(
    app: &NotifyCarrier,
    order: &Order,
    carriers: &'a [Carrier],
) -> Result<&'a Carrier, PortError> {
    let in_turn = carriers_in_turn(order.id, carriers);
    if in_turn.is_empty() {
        return Err(PortError::Transient("no active carrier".to_owned()));
    }
    let text = carrier_sms(order);
    let mut refused = Vec::new();
    for carrier in in_turn {
        let sent = retried("send the SMS", || {
            app.sms.send(&carrier.phone, &text, order.id)
        })
        .await;
        match sent {
            Ok(()) => {
                telemetry::count(telemetry::metric::SMS_SENT);
                return Ok(carrier);
            }
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                tracing::warn!(carrier = %carrier.id, error = %e, "the carrier's number is refused; trying the next");
                telemetry::count(telemetry::metric::SMS_REFUSED);
                refused.push(carrier.id.to_string());
            }
        }
    }
    Err(PortError::Permanent(format!(
        "every active carrier's number was refused: {}",
        refused.join(", ")
    )))
}

/// Sends the SMS to the carrier picked for the order, then marks it dispatched.
async fn text_carrier(app: &NotifyCarrier, order: &Order) -> Result<(), Failure> {
    let carriers = retried("list the carriers", || app.carriers.list())
        .await
        .map_err(Failure::BeforeSms)?;
    let carrier = text_first_willing(app, order, &carriers)
        .await
        .map_err(Failure::BeforeSms)?;
    let texted_at = Utc::now();
    let latency = (texted_at - order.created_at).num_milliseconds().max(0);
    telemetry::record(
        telemetry::metric::ORDER_TO_SMS_LATENCY,
        latency as f64,
        telemetry::Unit::Milliseconds,
    );
    tracing::info!(latency_ms = latency, "SMS sent, from the order's 202");
    let reference = carrier.reference();
    record_dispatch(app, order.id, &reference, texted_at)
        .await
        .map_err(|e| Failure::AfterSms(reference.clone(), e))
}
