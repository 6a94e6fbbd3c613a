//! `reconciler` fed EventBridge Scheduler's input, over the DynamoDB adapter (dynoxide) and the
//! embedded topic, whose `notify-carrier` subscription is a queue the test reads.

use bus_embedded::{Bus, NOTIFICATIONS};
use chrono::{DateTime, Duration, Utc};
use composition::lambda::EventFunction;
use domain::import::{FileVersion, Import, ImportFormat, ImportStatus};
use domain::order::{Order, OrderEvent};
use domain::ports::{Catalog, RecordOutcome};
use domain::{CarrierId, CompanyId, OrderId};
use reconciler::{After, Reconciled, Reconciler};
use serde_json::json;

const AFTER: After = After {
    orders: Duration::minutes(10),
    imports: Duration::minutes(35),
};

async fn setup() -> (Reconciler, Bus) {
    let (adapters, bus) = test_support::adapters().await;
    let store = adapters.store().await.unwrap();
    store
        .save(&test_support::product("pizza", "acme", 1250, 50), None)
        .await
        .unwrap();
    let app = Reconciler {
        orders: adapters.order_store().await.unwrap(),
        imports: adapters.imports().await.unwrap(),
        events: adapters.events().await.unwrap(),
        after: AFTER,
    };
    (app, bus)
}

/// An order accepted `ago` before now.
async fn accepted(app: &Reconciler, customer: &str, ago: Duration) -> Order {
    let order = test_support::accepted_order(customer, 1, Utc::now() - ago);
    let outcome = app.orders.record(&order).await.unwrap();
    assert!(matches!(outcome, RecordOutcome::Accepted(_)), "{outcome:?}");
    order
}

/// EventBridge Scheduler's invocation: the schedule's input, as Terraform sets it.
fn tick() -> serde_json::Value {
    json!({"reconcile": "scheduled"})
}

/// The orders announced to `notify-carrier`, taken off its queue.
fn announced(bus: &Bus) -> Vec<OrderId> {
    let received = bus.receive(NOTIFICATIONS, 10).unwrap();
    received
        .iter()
        .map(|m| {
            assert_eq!(m.attributes["type"], "order.accepted");
            let event: OrderEvent = serde_json::from_str(&m.body).unwrap();
            event.order.id
        })
        .collect()
}

#[tokio::test]
async fn an_accepted_order_left_undispatched_is_announced_again_once_it_is_overdue() {
    let (app, bus) = setup().await;
    let overdue = accepted(&app, "alice", Duration::minutes(11)).await;
    let recent = accepted(&app, "bob", Duration::minutes(9)).await;
    let dispatched = accepted(&app, "carol", Duration::minutes(30)).await;
    let carrier = domain::order::CarrierRef {
        id: CarrierId::parse("fast").unwrap(),
        name: "FAST".into(),
    };
    let now = Utc::now();
    app.orders
        .mark_dispatched(dispatched.id, &carrier, now, now)
        .await
        .unwrap();

    let reconciled = app.handle(tick()).await.unwrap();
    assert_eq!(
        reconciled,
        Reconciled {
            orders: 1,
            imports: 0
        }
    );
    assert_eq!(announced(&bus), vec![overdue.id]);

    // Still undispatched at the next run: announced again (notify-carrier's claim keeps it to
    // one SMS); the recent one once it is overdue too.
    let later = Utc::now() + Duration::minutes(2);
    assert_eq!(app.run(later).await.unwrap().orders, 2);
    let mut again = announced(&bus);
    again.sort();
    let mut expected = vec![overdue.id, recent.id];
    expected.sort();
    assert_eq!(again, expected);
}

async fn running(app: &Reconciler, at: DateTime<Utc>) -> Import {
    let import = Import::pending(CompanyId::parse("acme").unwrap(), ImportFormat::Csv, at);
    app.imports.create(&import).await.unwrap();
    let file = FileVersion {
        e_tag: "\"etag-1\"".into(),
        version_id: None,
    };
    app.imports
        .start(import.id, 10, &file, at)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn an_import_running_without_progress_past_the_wait_is_failed_with_its_reason() {
    let (app, bus) = setup().await;
    let now = Utc::now();
    let stalled = running(&app, now - Duration::minutes(36)).await;
    let waiting = running(&app, now - Duration::minutes(34)).await;
    let pending = Import::pending(
        CompanyId::parse("acme").unwrap(),
        ImportFormat::Csv,
        now - Duration::hours(2),
    );
    app.imports.create(&pending).await.unwrap();

    assert_eq!(
        app.run(now).await.unwrap(),
        Reconciled {
            orders: 0,
            imports: 1
        }
    );
    let failed = app.imports.get(stalled.id).await.unwrap().unwrap();
    assert_eq!(failed.status, ImportStatus::Failed);
    let reason = failed.reason.unwrap();
    assert!(reason.contains("no progress for 35 minutes"), "{reason}");
    // The one handed back to the queue and the one never uploaded are left to their own ends.
    let left = app.imports.get(waiting.id).await.unwrap().unwrap();
    assert_eq!(left.status, ImportStatus::Running);
    let left = app.imports.get(pending.id).await.unwrap().unwrap();
    assert_eq!(left.status, ImportStatus::Pending);
    // Ended imports leave the index: the next run finds nothing.
    assert_eq!(app.run(now).await.unwrap(), Reconciled::default());
    assert!(announced(&bus).is_empty());
}

/// The failure is conditional on the progress the run read: an import that moved since (a
/// batch, or a redelivery starting again) is left running.
#[tokio::test]
async fn an_import_that_moved_since_it_was_read_is_not_failed() {
    let (app, _bus) = setup().await;
    let now = Utc::now();
    let import = running(&app, now - Duration::hours(1)).await;
    let file = FileVersion {
        e_tag: "\"etag-1\"".into(),
        version_id: None,
    };
    app.imports.start(import.id, 10, &file, now).await.unwrap();
    let failed = app
        .imports
        .fail_stalled(import.id, import.updated_at, "stalled", now)
        .await
        .unwrap();
    assert!(!failed);
    let left = app.imports.get(import.id).await.unwrap().unwrap();
    assert_eq!(left.status, ImportStatus::Running);
    assert_eq!(app.run(now).await.unwrap().imports, 0);
}

/// The events topic, unreachable for as long as the test lasts.
struct Unreachable;

#[async_trait::async_trait]
impl domain::ports::EventPublisher for Unreachable {
    async fn publish(&self, _: &OrderEvent) -> Result<(), domain::PortError> {
        Err(domain::PortError::Permanent(
            "SNS: AuthorizationError".to_owned(),
        ))
    }
}

/// A half that fails fails the run (so Lambda counts the error and its alarm sees it), after
/// the other half has done its work: an unreachable topic does not keep a stalled import
/// running.
#[tokio::test]
async fn a_failing_half_fails_the_run_after_the_other_half_did_its_work() {
    let (mut app, _bus) = setup().await;
    app.events = std::sync::Arc::new(Unreachable);
    accepted(&app, "alice", Duration::minutes(11)).await;
    let now = Utc::now();
    let stalled = running(&app, now - Duration::minutes(40)).await;
    let error = app.run(now).await.unwrap_err();
    assert!(error.to_string().contains("AuthorizationError"), "{error}");
    let failed = app.imports.get(stalled.id).await.unwrap().unwrap();
    assert_eq!(failed.status, ImportStatus::Failed);
}
