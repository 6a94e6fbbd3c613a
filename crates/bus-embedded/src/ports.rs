//! The ports over the embedded bus.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use domain::order::OrderEvent;
use domain::ports::{EventPublisher, OrderQueue, OutgoingMessage, SendFailure, SmsSender};
use domain::{OrderId, Phone, PortError};

use crate::{Bus, NOTIFICATIONS, ORDERS};

/// The embedded messaging set: the orders queue, the `order-events` topic with
/// `notify-carrier`'s subscription (filter `type = order.accepted`), and the SMS outbox. It
/// reads no setting: the bus is its own configuration. (The composition root takes the three
/// ports as `composition::MessagingPorts`; this crate stays below it.)
pub struct EmbeddedMessaging {
    pub bus: Bus,
}

impl EmbeddedMessaging {
    pub fn order_queue(&self) -> Arc<dyn OrderQueue> {
        Arc::new(EmbeddedQueue {
            bus: self.bus.clone(),
            queue: ORDERS.name,
        })
    }

    pub fn events(&self) -> Arc<dyn EventPublisher> {
        Arc::new(EmbeddedTopic {
            bus: self.bus.clone(),
            subscriptions: vec![Subscription {
                queue: NOTIFICATIONS.name,
                type_filter: Some("order.accepted"),
            }],
        })
    }

    pub fn sms(&self) -> Arc<dyn SmsSender> {
        Arc::new(EmbeddedSms {
            bus: self.bus.clone(),
        })
    }
}

/// The orders queue (and its DLQ) as the [`OrderQueue`] port.
#[derive(Clone)]
pub struct EmbeddedQueue {
    pub bus: Bus,
    pub queue: &'static str,
}

#[async_trait]
impl OrderQueue for EmbeddedQueue {
    async fn send_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<Vec<SendFailure>, PortError> {
        if messages.len() > crate::MAX_BATCH {
            return Err(PortError::Permanent(format!(
                "a batch holds at most {} messages",
                crate::MAX_BATCH
            )));
        }
        let batch: Vec<_> = messages
            .iter()
            .map(|m| (m.body.clone(), HashMap::new()))
            .collect();
        self.bus.send(self.queue, &batch)?;
        Ok(Vec::new())
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), PortError> {
        self.bus.dead_letter(self.queue, body, reason)
    }
}

/// A subscription of the topic: a queue, and the `type` its filter policy accepts.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub queue: &'static str,
    pub type_filter: Option<&'static str>,
}

/// The `order-events` topic as the [`EventPublisher`] port: fans each event out to the
/// subscriptions whose filter matches its `type` attribute.
#[derive(Clone)]
pub struct EmbeddedTopic {
    pub bus: Bus,
    pub subscriptions: Vec<Subscription>,
}

#[async_trait]
impl EventPublisher for EmbeddedTopic {
    async fn publish(&self, event: &OrderEvent) -> Result<(), PortError> {
        let body = serde_json::to_string(event).map_err(|e| PortError::Permanent(e.to_string()))?;
        let kind = event.kind.as_str();
        let attributes = HashMap::from([("type".to_owned(), kind.to_owned())]);
        for sub in &self.subscriptions {
            if sub.type_filter.is_none_or(|t| t == kind) {
                self.bus
                    .send(sub.queue, &[(body.clone(), attributes.clone())])?;
            }
        }
        self.bus.count_published(event.kind);
        Ok(())
    }
}

/// The SMS outbox as the [`SmsSender`] port.
#[derive(Clone)]
pub struct EmbeddedSms {
    pub bus: Bus,
}

#[async_trait]
impl SmsSender for EmbeddedSms {
    async fn send(&self, to: &Phone, message: &str, order: OrderId) -> Result<(), PortError> {
        self.bus
            .record_sms(to.as_str(), message, &order.to_string())
    }
}
