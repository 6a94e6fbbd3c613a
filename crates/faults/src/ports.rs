//! The ports, wrapped: each call may meet the fault AWS would answer there.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::carrier::Carrier;
use domain::history::{Author, Entry};
use domain::import::{FileVersion, Import, ImportId, ObjectKey};
use domain::order::{CarrierRef, Order, OrderEvent};
use domain::ports::PortLayer;
use domain::ports::{
    BatchOutcome, Carriers, Catalog, Claim, EventPublisher, FileBody, ImportBatch, ImportFiles,
    Imports, KeyUse, KeyUses, OrderQueue, OrderStore, OutgoingMessage, Page, PageRequest,
    RecordOutcome, Remembered, SendFailure, SmsSender, UploadUrl,
};
use domain::product::Product;
use domain::rate::OrderWindow;
use domain::{CompanyId, CustomerId, OrderId, Phone, PortError, ProductId};

use crate::{Fault, Faults};

/// The fault layer: every port a function gets, wrapped.
pub struct FaultLayer(pub Arc<Faults>);

impl PortLayer for FaultLayer {
    fn catalog(&self, port: Arc<dyn Catalog>) -> Arc<dyn Catalog> {
        Arc::new(Faulty::new(port, &self.0))
    }
    fn order_store(&self, port: Arc<dyn OrderStore>) -> Arc<dyn OrderStore> {
        Arc::new(Faulty::new(port, &self.0))
    }
    fn carriers(&self, port: Arc<dyn Carriers>) -> Arc<dyn Carriers> {
        Arc::new(Faulty::new(port, &self.0))
    }
    fn order_queue(&self, port: Arc<dyn OrderQueue>) -> Arc<dyn OrderQueue> {
        Arc::new(Faulty::new(port, &self.0))
    }
    fn events(&self, port: Arc<dyn EventPublisher>) -> Arc<dyn EventPublisher> {
        Arc::new(Faulty::new(port, &self.0))
    }
    fn sms(&self, port: Arc<dyn SmsSender>) -> Arc<dyn SmsSender> {
        Arc::new(Faulty::new(port, &self.0))
    }
    fn key_uses(&self, port: Arc<dyn KeyUses>) -> Arc<dyn KeyUses> {
        Arc::new(Faulty::new(port, &self.0))
    }
    fn imports(&self, port: Arc<dyn Imports>) -> Arc<dyn Imports> {
        Arc::new(Faulty::new(port, &self.0))
    }
    fn import_files(&self, port: Arc<dyn ImportFiles>) -> Arc<dyn ImportFiles> {
        Arc::new(Faulty::new(port, &self.0))
    }
}

/// How long a stalled call answers nothing: the SDK's operation timeout
/// (`composition::SDK_OPERATION_TIMEOUT`, equal to it by a test of `delivery-local`, which
/// links both), after which the adapter answers a transient error, as it does in Lambda.
pub const STALL: Duration = Duration::from_secs(5);

fn timed_out(fault: Fault, call: &str) -> PortError {
    injected(
        fault,
        &format!(
            "{call}: operation timed out after {} s; its outcome is unknown",
            STALL.as_secs()
        ),
    )
}

/// A port and the faults that may strike it.
struct Faulty<P: ?Sized> {
    port: Arc<P>,
    faults: Arc<Faults>,
}

fn injected(fault: Fault, what: &str) -> PortError {
    PortError::Transient(format!("{what} (injected: {})", fault.name()))
}

impl<P: ?Sized> Faulty<P> {
    fn new(port: Arc<P>, faults: &Arc<Faults>) -> Faulty<P> {
        Faulty {
            port,
            faults: faults.clone(),
        }
    }

    /// A DynamoDB read: throttled or failed before it reaches the table, or stalled.
    async fn read(&self) -> Result<(), PortError> {
        if self.faults.strike(Fault::DynamodbThrottle) {
            return Err(injected(Fault::DynamodbThrottle, "ThrottlingException"));
        }
        if self.faults.strike(Fault::DynamodbError) {
            return Err(injected(Fault::DynamodbError, "InternalServerError"));
        }
        if self.faults.strike(Fault::DynamodbStall) {
            tokio::time::sleep(STALL).await;
            return Err(timed_out(Fault::DynamodbStall, "DynamoDB"));
        }
        Ok(())
    }

    /// A DynamoDB write: throttled before it is made, or (`dynamodb.error`) made and then
    /// answered 500, so that its caller cannot know it happened, or stalled (made or not).
    async fn write<T>(
        &self,
        write: impl Future<Output = Result<T, PortError>>,
    ) -> Result<T, PortError> {
        if self.faults.strike(Fault::DynamodbThrottle) {
            return Err(injected(Fault::DynamodbThrottle, "ThrottlingException"));
        }
        if self.faults.strike(Fault::DynamodbStall) {
            return self.stall(Fault::DynamodbStall, "DynamoDB", write).await;
        }
        self.faults.count_store_write();
        let outcome = write.await;
        if self.faults.strike(Fault::DynamodbError) {
            return Err(injected(
                Fault::DynamodbError,
                "InternalServerError after the write: its outcome is unknown",
            ));
        }
        outcome
    }

    /// A call that stalls until the SDK's timeout: made or not (at random, as a timed-out call
    /// may or may not have reached the service), then answered as a timeout. `Ok(true)` when
    /// it was made and succeeded, which the caller is never told.
    async fn stall<T>(
        &self,
        fault: Fault,
        call: &str,
        work: impl Future<Output = Result<T, PortError>>,
    ) -> Result<T, PortError> {
        if self.faults.pick(2) == 1 {
            let _ = work.await;
        }
        tokio::time::sleep(STALL).await;
        Err(timed_out(fault, call))
    }
}

#[async_trait]
impl Catalog for Faulty<dyn Catalog> {
    async fn get(&self, id: &ProductId) -> Result<Option<Product>, PortError> {
        self.read().await?;
        self.port.get(id).await
    }

    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, PortError> {
        self.read().await?;
        self.port.get_many(ids).await
    }

    async fn list(
        &self,
        company: Option<&CompanyId>,
        page: &PageRequest,
    ) -> Result<Page<Product>, PortError> {
        self.read().await?;
        self.port.list(company, page).await
    }

    async fn save(&self, product: &Product, expected: Option<u64>) -> Result<(), PortError> {
        self.write(self.port.save(product, expected)).await
    }

    async fn save_as(
        &self,
        product: &Product,
        expected: Option<u64>,
        author: &Author,
    ) -> Result<(), PortError> {
        self.write(self.port.save_as(product, expected, author))
            .await
    }

    async fn history(&self, id: &ProductId, page: &PageRequest) -> Result<Page<Entry>, PortError> {
        self.read().await?;
        self.port.history(id, page).await
    }
}

#[async_trait]
impl OrderStore for Faulty<dyn OrderStore> {
    async fn record(&self, order: &Order) -> Result<RecordOutcome, PortError> {
        if self.faults.strike(Fault::DynamodbConflict) {
            return Err(injected(
                Fault::DynamodbConflict,
                "TransactionCanceledException [TransactionConflict]",
            ));
        }
        self.write(self.port.record(order)).await
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, PortError> {
        self.read().await?;
        self.port.get(id).await
    }

    async fn list_for_customer(
        &self,
        customer: &CustomerId,
        page: &PageRequest,
    ) -> Result<Page<Order>, PortError> {
        self.read().await?;
        self.port.list_for_customer(customer, page).await
    }

    async fn awaiting_dispatch(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Order>, PortError> {
        self.read().await?;
        self.port.awaiting_dispatch(before, limit).await
    }

    async fn claim_dispatch(
        &self,
        id: OrderId,
        claimant: &str,
        at: DateTime<Utc>,
        lease: chrono::Duration,
        announced_at: DateTime<Utc>,
    ) -> Result<Claim, PortError> {
        self.write(
            self.port
                .claim_dispatch(id, claimant, at, lease, announced_at),
        )
        .await
    }

    async fn hold_texted(
        &self,
        id: OrderId,
        claimant: &str,
        carrier: &CarrierRef,
        at: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Claim, PortError> {
        self.write(self.port.hold_texted(id, claimant, carrier, at, lease))
            .await
    }

    async fn texted(&self, id: OrderId) -> Result<Option<CarrierRef>, PortError> {
        self.read().await?;
        self.port.texted(id).await
    }

    async fn release_dispatch_claim(&self, id: OrderId, claimant: &str) -> Result<(), PortError> {
        self.write(self.port.release_dispatch_claim(id, claimant))
            .await
    }

    async fn mark_dispatched(
        &self,
        id: OrderId,
        carrier: &CarrierRef,
        texted_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Order, PortError> {
        let marked = self
            .write(self.port.mark_dispatched(id, carrier, texted_at, at))
            .await;
        if marked.is_ok() {
            self.faults.sms_recorded(&id.to_string());
        }
        marked
    }
}

#[async_trait]
impl KeyUses for Faulty<dyn KeyUses> {
    async fn remember(&self, key_use: &KeyUse) -> Result<Remembered, PortError> {
        self.write(self.port.remember(key_use)).await
    }

    async fn recall(&self, order: OrderId) -> Result<Option<KeyUse>, PortError> {
        self.read().await?;
        self.port.recall(order).await
    }

    async fn count_order(
        &self,
        principal: &CustomerId,
        order: OrderId,
        window: &OrderWindow,
    ) -> Result<bool, PortError> {
        self.write(self.port.count_order(principal, order, window))
            .await
    }
}

#[async_trait]
impl Carriers for Faulty<dyn Carriers> {
    async fn list(&self) -> Result<Vec<Carrier>, PortError> {
        self.read().await?;
        self.port.list().await
    }

    async fn put(&self, carrier: &Carrier) -> Result<(), PortError> {
        self.write(self.port.put(carrier)).await
    }
}

#[async_trait]
impl OrderQueue for Faulty<dyn OrderQueue> {
    /// `sqs.send`: each entry may be reported failed (and not sent), as SQS does.
    async fn send_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<Vec<SendFailure>, PortError> {
        let (refused, taken): (Vec<&OutgoingMessage>, Vec<&OutgoingMessage>) = messages
            .iter()
            .partition(|_| self.faults.strike(Fault::SqsSend));
        let taken: Vec<OutgoingMessage> = taken.into_iter().cloned().collect();
        if self.faults.strike(Fault::SqsStall) {
            return self
                .stall(
                    Fault::SqsStall,
                    "SendMessageBatch",
                    self.port.send_batch(&taken),
                )
                .await;
        }
        let mut failures = self.port.send_batch(&taken).await?;
        failures.extend(refused.into_iter().map(|m| SendFailure {
            id: m.id.clone(),
            reason: "ServiceUnavailable (injected: sqs.send)".to_owned(),
            transient: true,
        }));
        Ok(failures)
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), PortError> {
        self.port.dead_letter(body, reason).await
    }
}

#[async_trait]
impl EventPublisher for Faulty<dyn EventPublisher> {
    async fn publish(&self, event: &OrderEvent) -> Result<(), PortError> {
        if self.faults.strike(Fault::SnsPublish) {
            return Err(injected(Fault::SnsPublish, "Throttling: Rate exceeded"));
        }
        if self.faults.strike(Fault::SnsStall) {
            return self
                .stall(Fault::SnsStall, "Publish", self.port.publish(event))
                .await;
        }
        if self.faults.strike(Fault::SnsLose) {
            // The topic took it; nothing ever reaches the subscription.
            return Ok(());
        }
        self.port.publish(event).await
    }
}

#[async_trait]
impl SmsSender for Faulty<dyn SmsSender> {
    async fn send(&self, to: &Phone, message: &str, order: OrderId) -> Result<(), PortError> {
        if self.faults.strike(Fault::SmsFail) {
            return Err(injected(Fault::SmsFail, "Throttling: SMS rate exceeded"));
        }
        let id = order.to_string();
        if self.faults.strike(Fault::SmsStall) {
            // Sent or not, the sender hears a timeout: if it went out, a retry may text again.
            let sending = async {
                let sent = self.port.send(to, message, order).await;
                if sent.is_ok() {
                    self.faults.unknown_sms_outcome(&id);
                }
                sent
            };
            return self.stall(Fault::SmsStall, "Publish (SMS)", sending).await;
        }
        let sent = self.port.send(to, message, order).await;
        if sent.is_ok() {
            self.faults.sms_sent(&id);
        }
        sent
    }
}

#[async_trait]
impl ImportFiles for Faulty<dyn ImportFiles> {
    async fn open(
        &self,
        key: &ObjectKey,
        version: &FileVersion,
    ) -> Result<Box<dyn FileBody>, PortError> {
        if self.faults.strike(Fault::S3Stall) {
            tokio::time::sleep(STALL).await;
            return Err(timed_out(Fault::S3Stall, "GetObject"));
        }
        self.port.open(key, version).await
    }

    async fn upload_url(
        &self,
        key: &ObjectKey,
        content_type: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<UploadUrl, PortError> {
        self.port.upload_url(key, content_type, expires_at).await
    }
}

#[async_trait]
impl Imports for Faulty<dyn Imports> {
    async fn create(&self, import: &Import) -> Result<(), PortError> {
        self.write(self.port.create(import)).await
    }

    async fn get(&self, id: ImportId) -> Result<Option<Import>, PortError> {
        self.read().await?;
        self.port.get(id).await
    }

    async fn open(&self, company: &CompanyId) -> Result<Vec<Import>, PortError> {
        self.read().await?;
        self.port.open(company).await
    }

    async fn expire(&self, id: ImportId, reason: &str, at: DateTime<Utc>) -> Result<(), PortError> {
        self.write(self.port.expire(id, reason, at)).await
    }

    async fn start(
        &self,
        id: ImportId,
        total_rows: u64,
        file: &FileVersion,
        at: DateTime<Utc>,
    ) -> Result<Option<Import>, PortError> {
        self.write(self.port.start(id, total_rows, file, at)).await
    }

    /// `dynamodb.conflict`: the transaction is cancelled by a concurrent one, as an order's is.
    async fn commit(&self, batch: &ImportBatch) -> Result<BatchOutcome, PortError> {
        if self.faults.strike(Fault::DynamodbConflict) {
            return Err(injected(
                Fault::DynamodbConflict,
                "TransactionCanceledException [TransactionConflict]",
            ));
        }
        self.write(self.port.commit(batch)).await
    }

    async fn finish(
        &self,
        id: ImportId,
        failure: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        self.write(self.port.finish(id, failure, at)).await
    }

    async fn stalled(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<Import>, PortError> {
        self.read().await?;
        self.port.stalled(before, limit).await
    }

    async fn fail_stalled(
        &self,
        id: ImportId,
        seen: DateTime<Utc>,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        self.write(self.port.fail_stalled(id, seen, reason, at))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FaultSpec;
    use std::sync::Mutex;

    /// A catalog in memory that remembers what was written.
    #[derive(Default)]
    struct Memory(Mutex<Vec<Product>>);

    #[async_trait]
    impl Catalog for Memory {
        async fn get(&self, id: &ProductId) -> Result<Option<Product>, PortError> {
            Ok(self.0.lock().unwrap().iter().find(|p| &p.id == id).cloned())
        }
        async fn get_many(&self, _: &[ProductId]) -> Result<Vec<Product>, PortError> {
            Ok(self.0.lock().unwrap().clone())
        }
        async fn list(
            &self,
            _: Option<&CompanyId>,
            _: &PageRequest,
        ) -> Result<Page<Product>, PortError> {
            Ok(Page {
                items: self.0.lock().unwrap().clone(),
                next_cursor: None,
            })
        }
        async fn save(&self, product: &Product, _: Option<u64>) -> Result<(), PortError> {
            self.0.lock().unwrap().push(product.clone());
            Ok(())
        }
        async fn save_as(
            &self,
            product: &Product,
            expected: Option<u64>,
            _: &Author,
        ) -> Result<(), PortError> {
            self.save(product, expected).await
        }
        async fn history(&self, _: &ProductId, _: &PageRequest) -> Result<Page<Entry>, PortError> {
            Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            })
        }
    }

    fn product() -> Product {
        Product {
            id: ProductId::parse("p1").unwrap(),
            company_id: CompanyId::parse("acme").unwrap(),
            name: "P".into(),
            description: String::new(),
            price: domain::Money::from_minor(100, domain::Currency::Usd),
            stock: 1,
            available: true,
            stock_shards: 1,
            version: 1,
            updated_at: Utc::now(),
        }
    }

    fn layered(spec: &str) -> (Arc<Memory>, Arc<dyn Catalog>, Arc<Faults>) {
        let faults = Arc::new(Faults::new(spec.parse::<FaultSpec>().unwrap(), 1));
        let memory = Arc::new(Memory::default());
        let port = FaultLayer(faults.clone()).catalog(memory.clone());
        (memory, port, faults)
    }

    #[tokio::test]
    async fn a_500_after_a_write_leaves_the_write_made_and_its_caller_unknowing() {
        let (memory, port, faults) = layered("dynamodb.error=1");
        let err = port.save(&product(), None).await.unwrap_err();
        assert!(
            err.is_transient() && err.to_string().contains("dynamodb.error"),
            "{err}"
        );
        assert_eq!(memory.0.lock().unwrap().len(), 1, "the write happened");
        assert!(
            port.get(&product().id).await.is_err(),
            "reads fail before the table"
        );
        assert_eq!(faults.injected()["dynamodb.error"], 2);
    }

    #[tokio::test]
    async fn a_throttle_refuses_the_write_before_it_is_made() {
        let (memory, port, _) = layered("dynamodb.throttle=1");
        assert!(
            port.save(&product(), None)
                .await
                .unwrap_err()
                .is_transient()
        );
        assert!(memory.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn no_fault_is_no_change() {
        let (memory, port, faults) = layered("none");
        port.save(&product(), None).await.unwrap();
        let stored = port.get(&product().id).await.unwrap().unwrap();
        assert_eq!(stored.id, product().id);
        assert_eq!(memory.0.lock().unwrap().len(), 1);
        assert!(faults.injected().values().all(|n| *n == 0));
    }

    /// An SMS provider that keeps what it sent.
    #[derive(Default)]
    struct Outbox(Mutex<Vec<OrderId>>);

    #[async_trait]
    impl SmsSender for Outbox {
        async fn send(&self, _: &Phone, _: &str, order: OrderId) -> Result<(), PortError> {
            self.0.lock().unwrap().push(order);
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_sms_answers_a_timeout_after_the_sdks_and_counts_a_window_if_it_went_out() {
        let faults = Arc::new(Faults::new("sms.stall=1".parse().unwrap(), 3));
        let outbox = Arc::new(Outbox::default());
        let sms = FaultLayer(faults.clone()).sms(outbox.clone());
        let phone = Phone::parse("+15550100001").unwrap();
        let customer = CustomerId::parse("alice").unwrap();
        for n in 0..20 {
            let key = domain::IdempotencyKey::parse(&format!("k{n}")).unwrap();
            let order = OrderId::for_request(&customer, Some(&key));
            let started = tokio::time::Instant::now();
            let error = sms.send(&phone, "hi", order).await.unwrap_err();
            assert!(error.is_transient() && error.to_string().contains("sms.stall"));
            assert_eq!(started.elapsed(), STALL, "answered at the SDK's timeout");
        }
        let sent = outbox.0.lock().unwrap().clone();
        assert!((1..20).contains(&sent.len()), "some went out, some not");
        let windows = faults.unknown_sms_outcomes();
        assert_eq!(windows.len(), sent.len(), "a window per SMS that went out");
        assert!(sent.iter().all(|o| windows[&o.to_string()] == 1));
    }

    #[tokio::test]
    async fn an_invocation_that_ends_between_the_sms_and_its_record_opens_one_window() {
        let faults = Arc::new(Faults::new(FaultSpec::none(), 1));
        let sms = FaultLayer(faults.clone()).sms(Arc::new(Outbox::default()));
        let order = OrderId::for_request(&CustomerId::parse("bob").unwrap(), None);
        let id = order.to_string();
        faults.invocation_failed(&id);
        assert!(faults.unknown_sms_outcomes().is_empty(), "nothing was sent");
        let phone = Phone::parse("+15550100001").unwrap();
        sms.send(&phone, "hi", order).await.unwrap();
        faults.invocation_failed(&id);
        faults.invocation_failed(&id);
        assert_eq!(faults.unknown_sms_outcomes()[&id], 1, "one SMS, one window");
        sms.send(&phone, "hi", order).await.unwrap();
        faults.sms_recorded(&id);
        faults.invocation_failed(&id);
        assert_eq!(faults.unknown_sms_outcomes()[&id], 1, "recorded: no window");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_read_times_out_and_a_stalled_write_may_be_made() {
        let (memory, port, _) = layered("dynamodb.stall=1");
        let started = tokio::time::Instant::now();
        assert!(port.get(&product().id).await.unwrap_err().is_transient());
        assert_eq!(started.elapsed(), STALL);
        for _ in 0..20 {
            assert!(
                port.save(&product(), None)
                    .await
                    .unwrap_err()
                    .is_transient()
            );
        }
        let made = memory.0.lock().unwrap().len();
        assert!(
            (1..20).contains(&made),
            "made or not, unknown to the caller: {made}"
        );
    }

    /// A topic that counts what reaches its subscriber.
    #[derive(Default)]
    struct Topic(Mutex<usize>);

    #[async_trait]
    impl EventPublisher for Topic {
        async fn publish(&self, _: &OrderEvent) -> Result<(), PortError> {
            *self.0.lock().unwrap() += 1;
            Ok(())
        }
    }

    fn event() -> OrderEvent {
        let customer = CustomerId::parse("alice").unwrap();
        OrderEvent::for_order(&Order {
            id: OrderId::for_request(&customer, None),
            customer_id: customer,
            lines: Vec::new(),
            total: None,
            delivery: domain::order::Delivery {
                address: "1 Main St".into(),
                phone: Phone::parse("+15551234567").unwrap(),
            },
            status: domain::order::OrderStatus::Accepted,
            reason: None,
            carrier: None,
            created_at: Utc::now(),
            recorded_at: None,
            announced_at: None,
            texted_at: None,
            dispatched_at: None,
        })
    }

    /// A lost event is published as far as its publisher knows, and never reaches the
    /// subscriber: no error for a retry to see.
    #[tokio::test]
    async fn a_lost_event_is_a_success_that_never_arrives() {
        let faults = Arc::new(Faults::new("sns.lose=1".parse::<FaultSpec>().unwrap(), 1));
        let topic = Arc::new(Topic::default());
        let port = FaultLayer(faults.clone()).events(topic.clone());
        port.publish(&event()).await.unwrap();
        assert_eq!(*topic.0.lock().unwrap(), 0);
        assert_eq!(faults.injected()["sns.lose"], 1);
        let faults = Arc::new(Faults::new(FaultSpec::none(), 1));
        let port = FaultLayer(faults).events(topic.clone());
        port.publish(&event()).await.unwrap();
        assert_eq!(*topic.0.lock().unwrap(), 1);
    }
}
