//! `notify-carrier` fed real SNS event JSON, over the DynamoDB adapter (dynoxide) and the
//! embedded SMS outbox.

use std::sync::Arc;

use aws_lambda_events::sns::SnsEvent;
use bus_embedded::{Bus, EmbeddedSms};
use composition::lambda::EventFunction;
use domain::carrier::Carrier;
use domain::order::{Order, OrderEvent, OrderStatus};
use domain::ports::{Carriers, Catalog, OrderStore};
use domain::{CarrierId, CustomerId, OrderId, Phone, ProductId};
use notify_carrier::NotifyCarrier;
use serde_json::json;
use store_dynamodb::DynamoStore;
use test_support::{product, store};

async fn setup(active: bool) -> (NotifyCarrier, DynamoStore, Bus) {
    let store = store().await;
    store
        .save(&product("pizza", "acme", 1250, 5), None)
        .await
        .unwrap();
    for (id, phone) in [("fast", "+15550100001"), ("slow", "+15550100002")] {
        let carrier = Carrier {
            id: CarrierId::parse(id).unwrap(),
            name: id.to_uppercase(),
            phone: Phone::parse(phone).unwrap(),
            active,
        };
        store.put(&carrier).await.unwrap();
    }
    let bus = Bus::memory().unwrap();
    let app = NotifyCarrier {
        orders: Arc::new(store.clone()),
        carriers: Arc::new(store.clone()),
        sms: Arc::new(EmbeddedSms { bus: bus.clone() }),
    };
    (app, store, bus)
}

async fn accepted_order(store: &DynamoStore) -> Order {
    let order = test_support::accepted_order("alice", 2, chrono::Utc::now());
    store.record(&order).await.unwrap();
    order
}

/// An SNS event exactly as Lambda receives it from a topic subscription.
fn sns_event(message_id: &str, event: &OrderEvent) -> SnsEvent {
    serde_json::from_value(json!({"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:eu-west-1:123456789012:order-events:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:order-events",
            "Subject": null,
            "Message": serde_json::to_string(event).unwrap(),
            "Timestamp": "2026-11-22T10:00:01.000Z",
            "SignatureVersion": "1",
            "Signature": "tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...65r==",
            "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-ac565b8b1a6c5d002d285f9598aa1d9b.pem",
            "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {"type": {"Type": "String", "Value": event.kind.as_str()}}
        }
    }]}))
    .unwrap()
}

#[tokio::test]
async fn texts_the_carrier_once_and_marks_the_order_dispatched() {
    let (app, store, bus) = setup(true).await;
    let order = accepted_order(&store).await;
    let event = OrderEvent::for_order(&order);
    app.handle(sns_event("m-1", &event)).await.unwrap();
    let stored = OrderStore::get(&store, order.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Dispatched);
    let carrier = stored.carrier.unwrap();
    let sms = bus.sms().unwrap();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].order_id, order.id.to_string());
    assert!(sms[0].message.contains("2 items, 25.00 USD"));
    let expected_phone = if carrier.id.as_str() == "fast" {
        "+15550100001"
    } else {
        "+15550100002"
    };
    assert_eq!(sms[0].to, expected_phone);
    // The same event again (a repeat delivery), or another copy of it: no second SMS.
    app.handle(sns_event("m-1", &event)).await.unwrap();
    app.handle(sns_event("m-2", &event)).await.unwrap();
    assert_eq!(bus.sms().unwrap().len(), 1);
}

#[tokio::test]
async fn no_active_carrier_fails_the_invocation_so_it_is_retried() {
    let (app, store, bus) = setup(false).await;
    let order = accepted_order(&store).await;
    let err = app
        .handle(sns_event("m-1", &OrderEvent::for_order(&order)))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(bus.sms().unwrap().is_empty());
    assert_eq!(
        OrderStore::get(&store, order.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        OrderStatus::Accepted
    );
    // The failed attempt gave up its claim: once a carrier is active, the retry texts at once.
    let carrier = Carrier {
        id: CarrierId::parse("fast").unwrap(),
        name: "FAST".into(),
        phone: Phone::parse("+15550100001").unwrap(),
        active: true,
    };
    store.put(&carrier).await.unwrap();
    app.handle(sns_event("m-1", &OrderEvent::for_order(&order)))
        .await
        .unwrap();
    assert_eq!(bus.sms().unwrap().len(), 1);
}

/// Two deliveries of the same message at once (SQS and SNS are at least once): one SMS. The
/// delivery that loses the claim fails (to be retried) or finds the order dispatched.
#[tokio::test]
async fn overlapping_deliveries_of_one_message_send_one_sms() {
    let (app, store, bus) = setup(true).await;
    let mut pizza = Catalog::get(&store, &ProductId::parse("pizza").unwrap())
        .await
        .unwrap()
        .unwrap();
    pizza.stock = 100;
    pizza.version += 1;
    store.save(&pizza, Some(pizza.version - 1)).await.unwrap();
    for _ in 0..5 {
        let order = accepted_order(&store).await;
        let event = OrderEvent::for_order(&order);
        let (a, b) = tokio::join!(
            app.handle(sns_event("m-1", &event)),
            app.handle(sns_event("m-1", &event))
        );
        assert!(a.is_ok() || b.is_ok(), "{a:?} {b:?}");
        for outcome in [a, b] {
            if let Err(e) = outcome {
                assert!(e.is_transient(), "{e}");
            }
        }
        let stored = OrderStore::get(&store, order.id).await.unwrap().unwrap();
        assert_eq!(stored.status, OrderStatus::Dispatched);
    }
    assert_eq!(bus.sms().unwrap().len(), 5);
}

#[tokio::test]
async fn rejected_orders_and_garbage() {
    let (app, store, bus) = setup(true).await;
    let order = accepted_order(&store).await;
    let rejected = order.rejected(domain::order::RejectReason::OutOfStock);
    app.handle(sns_event("m-1", &OrderEvent::for_order(&rejected)))
        .await
        .unwrap();
    assert!(bus.sms().unwrap().is_empty());
    let mut garbage = sns_event("m-2", &OrderEvent::for_order(&order));
    garbage.records[0].sns.message = "not an event".into();
    assert!(
        app.handle(garbage).await.is_err(),
        "an unreadable event fails, to land in the DLQ"
    );
}

/// An SMS provider that refuses one number for good (opted out, as SNS answers a permanent
/// error), and texts the others through the outbox.
struct OptedOut {
    number: &'static str,
    outbox: EmbeddedSms,
}

#[async_trait::async_trait]
impl domain::ports::SmsSender for OptedOut {
    async fn send(
        &self,
        to: &Phone,
        message: &str,
        order: OrderId,
    ) -> Result<(), domain::PortError> {
        if to.as_str() == self.number {
            return Err(domain::PortError::Permanent(
                "InvalidParameter: the phone number is opted out".to_owned(),
            ));
        }
        self.outbox.send(to, message, order).await
    }
}

#[tokio::test]
async fn a_carrier_whose_number_is_refused_for_good_passes_the_order_to_the_next() {
    let (mut app, store, bus) = setup(true).await;
    let order = accepted_order(&store).await;
    let picked = domain::carrier::pick_carrier(order.id, &app.carriers.list().await.unwrap())
        .unwrap()
        .clone();
    app.sms = Arc::new(OptedOut {
        number: if picked.id.as_str() == "fast" {
            "+15550100001"
        } else {
            "+15550100002"
        },
        outbox: EmbeddedSms { bus: bus.clone() },
    });
    app.handle(sns_event("m-1", &OrderEvent::for_order(&order)))
        .await
        .unwrap();
    let stored = OrderStore::get(&store, order.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Dispatched);
    let carrier = stored.carrier.unwrap();
    assert_ne!(carrier.id, picked.id, "dispatched to the next carrier");
    let sms = bus.sms().unwrap();
    assert_eq!(sms.len(), 1);
    assert_ne!(sms[0].to, picked.phone.as_str());
}

#[tokio::test]
async fn when_every_number_is_refused_the_delivery_fails_saying_so() {
    let (mut app, store, bus) = setup(true).await;
    let order = accepted_order(&store).await;
    struct Nobody;
    #[async_trait::async_trait]
    impl domain::ports::SmsSender for Nobody {
        async fn send(&self, _: &Phone, _: &str, _: OrderId) -> Result<(), domain::PortError> {
            Err(domain::PortError::Permanent("opted out".to_owned()))
        }
    }
    app.sms = Arc::new(Nobody);
    let error = app
        .handle(sns_event("m-1", &OrderEvent::for_order(&order)))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("every active carrier's number was refused: fast, slow")
            || error
                .to_string()
                .contains("every active carrier's number was refused: slow, fast"),
        "{error}"
    );
    let stored = OrderStore::get(&store, order.id).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        OrderStatus::Accepted,
        "still to be dispatched"
    );
    assert!(bus.sms().unwrap().is_empty());
}

/// The orders table, whose `mark_dispatched` fails while `failing` is set (as a throttled or
/// unreachable table would, past the retries).
struct UnrecordedDispatch {
    store: DynamoStore,
    failing: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl OrderStore for UnrecordedDispatch {
    async fn record(
        &self,
        order: &Order,
    ) -> Result<domain::ports::RecordOutcome, domain::PortError> {
        self.store.record(order).await
    }
    async fn get(&self, id: OrderId) -> Result<Option<Order>, domain::PortError> {
        OrderStore::get(&self.store, id).await
    }
    async fn list_for_customer(
        &self,
        customer: &CustomerId,
        page: &domain::ports::PageRequest,
    ) -> Result<domain::ports::Page<Order>, domain::PortError> {
        self.store.list_for_customer(customer, page).await
    }
    async fn awaiting_dispatch(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<Order>, domain::PortError> {
        self.store.awaiting_dispatch(before, limit).await
    }
    async fn claim_dispatch(
        &self,
        id: OrderId,
        claimant: &str,
        at: chrono::DateTime<chrono::Utc>,
        lease: chrono::Duration,
        announced_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<domain::ports::Claim, domain::PortError> {
        self.store
            .claim_dispatch(id, claimant, at, lease, announced_at)
            .await
    }
    async fn hold_texted(
        &self,
        id: OrderId,
        claimant: &str,
        carrier: &domain::order::CarrierRef,
        at: chrono::DateTime<chrono::Utc>,
        lease: chrono::Duration,
    ) -> Result<domain::ports::Claim, domain::PortError> {
        self.store
            .hold_texted(id, claimant, carrier, at, lease)
            .await
    }
    async fn texted(
        &self,
        id: OrderId,
    ) -> Result<Option<domain::order::CarrierRef>, domain::PortError> {
        self.store.texted(id).await
    }
    async fn release_dispatch_claim(
        &self,
        id: OrderId,
        claimant: &str,
    ) -> Result<(), domain::PortError> {
        self.store.release_dispatch_claim(id, claimant).await
    }
    async fn mark_dispatched(
        &self,
        id: OrderId,
        carrier: &domain::order::CarrierRef,
        texted_at: chrono::DateTime<chrono::Utc>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Order, domain::PortError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(domain::PortError::Transient("throttled".to_owned()));
        }
        self.store.mark_dispatched(id, carrier, texted_at, at).await
    }
}

/// The SMS went out and the order could not be marked dispatched: the retry, past the first
/// attempt's claim, records it through the carrier texted and sends no second SMS.
#[tokio::test]
async fn a_texted_order_whose_record_failed_is_recorded_by_the_retry_not_texted_again() {
    let (mut app, store, bus) = setup(true).await;
    let order = accepted_order(&store).await;
    let orders = Arc::new(UnrecordedDispatch {
        store: store.clone(),
        failing: true.into(),
    });
    app.orders = orders.clone();
    let event = sns_event("m-1", &OrderEvent::for_order(&order));
    // The first attempt has a second left: its claim, taken for that second, would be free
    // long before Lambda's retry (a minute later) were it not held on once the SMS is out.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    let error = retry_policy::within(deadline, app.handle(event.clone()))
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(bus.sms().unwrap().len(), 1, "texted once");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    // The retry, past the first attempt's time, with the table answering again.
    orders
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    retry_policy::within(deadline, app.handle(event))
        .await
        .unwrap();
    let sms = bus.sms().unwrap();
    assert_eq!(sms.len(), 1, "no second SMS");
    let stored = OrderStore::get(&store, order.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Dispatched);
    let carrier = stored.carrier.unwrap();
    let carriers = Carriers::list(&store).await.unwrap();
    let phone = carriers.into_iter().find(|c| c.id == carrier.id);
    assert_eq!(
        sms[0].to,
        phone.unwrap().phone.as_str(),
        "the carrier texted"
    );
    assert_eq!(store.texted(order.id).await.unwrap(), None, "recorded");
}

/// A transient failure is a delivery Lambda retries, not a fault of this version (the canary's
/// rollback alarm watches faults); a permanent one is a fault. The diagnostic names the kind.
#[test]
fn only_a_permanent_failure_is_the_functions_fault() {
    use domain::PortError;
    let transient = PortError::Transient("throttled".into());
    let permanent = PortError::Permanent("no carrier can be texted".into());
    assert!(!NotifyCarrier::is_fault(&transient));
    assert!(NotifyCarrier::is_fault(&permanent));
    assert_eq!(
        NotifyCarrier::diagnostic(&transient).error_type,
        "Transient"
    );
    assert_eq!(
        NotifyCarrier::diagnostic(&permanent).error_type,
        "Permanent"
    );
}

/// SNS throttling every SMS: a failure that may pass, so the delivery fails to be retried
/// with the same carrier, and no other carrier is tried in the meantime.
struct Throttled(std::sync::atomic::AtomicUsize);

#[async_trait::async_trait]
impl domain::ports::SmsSender for Throttled {
    async fn send(&self, _: &Phone, _: &str, _: OrderId) -> Result<(), domain::PortError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(domain::PortError::Transient(
            "Throttling: Rate exceeded".into(),
        ))
    }
}

#[tokio::test]
async fn a_throttled_sms_fails_the_delivery_without_passing_the_order_on() {
    let (mut app, store, _) = setup(true).await;
    let throttled = Arc::new(Throttled(std::sync::atomic::AtomicUsize::new(0)));
    app.sms = throttled.clone();
    let order = accepted_order(&store).await;
    let err = app
        .handle(sns_event("m-1", &OrderEvent::for_order(&order)))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    let stored = OrderStore::get(&store, order.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Accepted);
    // Every attempt went to the one carrier picked for the order (the retries inside the
    // invocation), none to the next.
    let calls = throttled.0.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(calls, retry_policy::PIPELINE.attempts as usize);
}
