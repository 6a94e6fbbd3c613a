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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NOTIFICATIONS, ORDERS, Published};
    use chrono::Utc;
    use domain::CustomerId;
    use domain::order::{Delivery, Order, OrderStatus, RejectReason};
    use domain::ports::OutgoingMessage;

    fn messaging() -> EmbeddedMessaging {
        EmbeddedMessaging {
            bus: Bus::memory().unwrap(),
        }
    }

    fn order(customer: &str, status: OrderStatus) -> Order {
        let customer = CustomerId::parse(customer).unwrap();
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

    fn outgoing(n: usize) -> Vec<OutgoingMessage> {
        (0..n)
            .map(|i| OutgoingMessage {
                id: i.to_string(),
                body: format!("body {i}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn the_queue_takes_a_batch_of_up_to_ten_and_refuses_more() {
        let messaging = messaging();
        let queue = messaging.order_queue();
        assert_eq!(queue.send_batch(&outgoing(10)).await.unwrap(), vec![]);
        let refused = queue.send_batch(&outgoing(11)).await.unwrap_err();
        assert!(matches!(refused, PortError::Permanent(_)), "{refused:?}");
        let bodies: Vec<_> = messaging
            .bus
            .receive(ORDERS, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.body)
            .collect();
        assert_eq!(
            bodies,
            outgoing(10).into_iter().map(|m| m.body).collect::<Vec<_>>()
        );
        assert!(
            messaging.bus.receive(ORDERS, 10).unwrap().is_empty(),
            "nothing of the refused batch"
        );
    }

    #[tokio::test]
    async fn the_queue_dead_letters_with_the_reason() {
        let messaging = messaging();
        messaging
            .order_queue()
            .dead_letter("{bad", "body is not JSON")
            .await
            .unwrap();
        let dead = messaging.bus.dead_letters().unwrap();
        assert_eq!(
            (dead[0].queue.as_str(), dead[0].body.as_str()),
            (ORDERS.name, "{bad")
        );
        assert_eq!(dead[0].reason, "body is not JSON");
    }

    #[tokio::test]
    async fn the_topic_delivers_only_accepted_orders_to_notify_carrier_and_counts_both() {
        let messaging = messaging();
        let topic = messaging.events();
        let accepted = order("alice", OrderStatus::Accepted);
        topic
            .publish(&OrderEvent::for_order(&accepted))
            .await
            .unwrap();
        topic
            .publish(&OrderEvent::for_order(&order("bob", OrderStatus::Rejected)))
            .await
            .unwrap();
        let got = messaging.bus.receive(NOTIFICATIONS, 10).unwrap();
        assert_eq!(got.len(), 1, "the filter passes order.accepted only");
        assert_eq!(got[0].attributes["type"], "order.accepted");
        let event: OrderEvent = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(event.order.id, accepted.id);
        assert_eq!(
            messaging.bus.published(),
            Published {
                accepted: 1,
                rejected: 1
            }
        );
    }

    #[tokio::test]
    async fn an_sms_lands_in_the_outbox() {
        let messaging = messaging();
        let id = order("alice", OrderStatus::Accepted).id;
        messaging
            .sms()
            .send(
                &Phone::parse("+15550100001").unwrap(),
                "Order x: 2 items",
                id,
            )
            .await
            .unwrap();
        let sms = messaging.bus.sms().unwrap();
        assert_eq!(sms.len(), 1);
        assert_eq!(
            (
                sms[0].to.as_str(),
                sms[0].message.as_str(),
                sms[0].order_id.clone()
            ),
            ("+15550100001", "Order x: 2 items", id.to_string())
        );
    }
}
