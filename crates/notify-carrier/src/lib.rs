//! `notify-carrier`: on `order.accepted` (SPEC §5), picks an active carrier deterministically
//! from the order id, sends it the order by SMS, and marks the order dispatched. Any failure
//! fails the invocation, so it is retried and what still fails lands in the notifications DLQ.
//! An order already dispatched is not texted again.

use std::sync::Arc;

use aws_lambda_events::sns::SnsEvent;
use chrono::Utc;
use composition::lambda::EventFunction;
use composition::{Adapters, App};
use domain::PortError;
use domain::carrier::pick_carrier;
use domain::order::{EventType, OrderEvent, OrderStatus};
use domain::ports::{Carriers, Claim, OrderStore, SmsSender};
use domain::sms::carrier_sms;
use lambda_runtime::Diagnostic;
use settings::ConfigError;
use tracing::Instrument;

/// How long a claim to notify the carrier holds before another delivery may take over.
const CLAIM_LEASE: chrono::Duration = chrono::Duration::seconds(60);

pub struct NotifyCarrier {
    pub orders: Arc<dyn OrderStore>,
    pub carriers: Arc<dyn Carriers>,
    pub sms: Arc<dyn SmsSender>,
}

impl App for NotifyCarrier {
    const NAME: &'static str = "notify-carrier";

    async fn new(adapters: &Adapters) -> Result<NotifyCarrier, ConfigError> {
        let store = adapters.store().await?;
        Ok(NotifyCarrier {
            orders: Arc::new(store.clone()),
            carriers: Arc::new(store),
            sms: adapters.sms().await,
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
            notify(self, message_id, &record.sns.message)
                .instrument(span)
                .await?;
        }
        Ok(())
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

async fn notify(app: &NotifyCarrier, message_id: &str, message: &str) -> Result<(), PortError> {
    let event: OrderEvent = serde_json::from_str(message).map_err(|e| {
        PortError::Permanent(format!("message {message_id} is not an order event: {e}"))
    })?;
    if event.kind != EventType::OrderAccepted {
        tracing::info!(
            kind = event.kind.as_str(),
            "not an accepted order; nothing to do"
        );
        return Ok(());
    }
    let order_id = event.order.id;
    tracing::Span::current().record("order_id", order_id.to_string());
    let order = app
        .orders
        .get(order_id)
        .await?
        .ok_or_else(|| PortError::Transient(format!("order {order_id} not readable yet")))?;
    if order.status != OrderStatus::Accepted {
        tracing::info!(status = order.status.as_str(), "already handled; no SMS");
        return Ok(());
    }
    let claim = app
        .orders
        .claim_dispatch(order_id, message_id, Utc::now(), CLAIM_LEASE)
        .await?;
    if claim == Claim::Held {
        tracing::info!("another delivery of this order is notifying the carrier; no second SMS");
        return Ok(());
    }
    let carriers = app.carriers.list().await?;
    let carrier = pick_carrier(order_id, &carriers)
        .ok_or_else(|| PortError::Transient("no active carrier".to_owned()))?;
    let text = carrier_sms(&order);
    app.sms.send(&carrier.phone, &text, order_id).await?;
    telemetry::count("SmsSent");
    app.orders
        .mark_dispatched(order_id, &carrier.reference(), Utc::now())
        .await?;
    tracing::info!(carrier = %carrier.id, "carrier notified, order dispatched");
    Ok(())
}
