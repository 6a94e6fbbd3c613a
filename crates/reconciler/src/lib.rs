//! `reconciler`: heals, every five minutes (EventBridge Scheduler; a timer in `delivery-local`),
//! what the retries of the pipeline cannot see (ARCHITECTURE.md, "The order pipeline").
//!
//! - An order accepted and still not dispatched well after it was recorded
//!   (`RECONCILE_ORDERS_AFTER_SECONDS`, 10 minutes in AWS) has its `order.accepted` published
//!   again: its first event was lost between the topic and `notify-carrier`, or dead-lettered.
//!   A retry covers a failed call, never a message that vanished. `notify-carrier`'s claim keeps
//!   it to one SMS even when the first event was only late.
//! - An import `running` with no progress for longer than `RECONCILE_IMPORTS_AFTER_SECONDS` (the
//!   imports queue's visibility timeout plus the importer's timeout, so that an import handed
//!   back to the queue is never failed while it waits) is failed with its reason: its message
//!   was dead-lettered, or its file can no longer be read, and nothing else would ever end it.
//!   The failure is conditional on the progress it read, so an import that moves meanwhile is
//!   left running.
//!
//! What it heals is counted (`OrdersReconciled`, `ImportsReconciled`), and an alarm fires when
//! it keeps finding work: something upstream is losing messages.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use composition::lambda::EventFunction;
use composition::{Adapters, App};
use domain::PortError;
use domain::order::{OrderEvent, OrderStatus};
use domain::ports::{EventPublisher, Imports, OrderStore};
use retry_policy::PIPELINE;
use serde::Serialize;
use settings::{ConfigError, Source};
use telemetry::{Unit, metric};
use tracing::Instrument;

/// The orders a run announces again at most; more wait for the next run, five minutes later.
pub const MAX_ORDERS_PER_RUN: usize = 1_000;
/// The imports a run fails at most.
pub const MAX_IMPORTS_PER_RUN: usize = 100;

/// How long an order or an import is left to the pipeline before the reconciler steps in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct After {
    /// Since an accepted order was recorded.
    pub orders: Duration,
    /// Since a running import's last progress.
    pub imports: Duration,
}

/// The longest wait either setting takes: a week.
const MAX_AFTER_SECONDS: i64 = 7 * 24 * 3600;

impl After {
    /// `RECONCILE_ORDERS_AFTER_SECONDS` (600 when absent) and
    /// `RECONCILE_IMPORTS_AFTER_SECONDS` (required: it follows from the imports queue and the
    /// importer's timeout, which only the deployment knows).
    pub fn from_settings(source: &dyn Source) -> Result<After, ConfigError> {
        const ORDERS: &str = "RECONCILE_ORDERS_AFTER_SECONDS";
        const IMPORTS: &str = "RECONCILE_IMPORTS_AFTER_SECONDS";
        let orders = match settings::optional(source, ORDERS) {
            Some(value) => seconds(ORDERS, &value)?,
            None => Duration::minutes(10),
        };
        let imports = seconds(IMPORTS, &settings::required(source, IMPORTS)?)?;
        Ok(After { orders, imports })
    }
}

fn seconds(name: &'static str, value: &str) -> Result<Duration, ConfigError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|s| (1..=MAX_AFTER_SECONDS).contains(s))
        .map(Duration::seconds)
        .ok_or_else(|| {
            ConfigError::malformed(
                name,
                format!("must be whole seconds from 1 to {MAX_AFTER_SECONDS}"),
            )
        })
}

pub struct Reconciler {
    pub orders: Arc<dyn OrderStore>,
    pub imports: Arc<dyn Imports>,
    pub events: Arc<dyn EventPublisher>,
    pub after: After,
}

impl App for Reconciler {
    const NAME: &'static str = "reconciler";

    async fn new(adapters: &Adapters) -> Result<Reconciler, ConfigError> {
        Ok(Reconciler {
            orders: adapters.order_store().await?,
            imports: adapters.imports().await?,
            events: adapters.events().await?,
            after: After::from_settings(adapters.settings())?,
        })
    }
}

/// What one run healed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    /// Accepted orders whose event was published again.
    pub orders: usize,
    /// Stalled imports failed.
    pub imports: usize,
}

/// The handler, as Lambda and `delivery-local` call it: the schedule's input is not read (any
/// JSON). It fails when some order could not be announced or some import not failed, after
/// trying every one; the next run tries them again.
impl EventFunction for Reconciler {
    type Event = serde_json::Value;
    type Output = Reconciled;
    type Error = PortError;

    async fn handle(&self, _tick: serde_json::Value) -> Result<Reconciled, PortError> {
        self.run(Utc::now()).await
    }
}

impl Reconciler {
    /// One pass at `now`: both halves run even when the other fails.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<Reconciled, PortError> {
        let orders = self.announce_again(now).await;
        let imports = self.fail_stalled(now).await;
        let reconciled = Reconciled {
            orders: healed(&orders),
            imports: healed(&imports),
        };
        telemetry::record(
            metric::ORDERS_RECONCILED,
            reconciled.orders as f64,
            Unit::Count,
        );
        telemetry::record(
            metric::IMPORTS_RECONCILED,
            reconciled.imports as f64,
            Unit::Count,
        );
        tracing::info!(
            orders = reconciled.orders,
            imports = reconciled.imports,
            "reconciled"
        );
        first_error(orders, imports).map(|()| reconciled)
    }

    /// Publishes `order.accepted` again for every accepted order recorded before `now` minus
    /// the wait and not dispatched.
    async fn announce_again(&self, now: DateTime<Utc>) -> Healed {
        let before = now - self.after.orders;
        let waiting = retried("list the orders awaiting dispatch", || {
            self.orders.awaiting_dispatch(before, MAX_ORDERS_PER_RUN)
        })
        .await
        .map_err(|e| (0, e))?;
        let mut announced = 0;
        let mut last_error = None;
        for order in waiting {
            // The index is a moment behind: an order dispatched just now is left alone.
            if order.status != OrderStatus::Accepted {
                continue;
            }
            let span = tracing::info_span!("order", order_id = %order.id);
            let event = OrderEvent::for_order(&order);
            let published = retried("publish the event again", || self.events.publish(&event))
                .instrument(span.clone())
                .await;
            match published {
                Ok(()) => {
                    span.in_scope(|| {
                        tracing::warn!("accepted and not dispatched; announced again")
                    });
                    announced += 1;
                }
                Err(e) => {
                    span.in_scope(|| tracing::error!(error = %e, "could not announce it again"));
                    last_error = Some(e);
                }
            }
        }
        last_error.map_or(Ok(announced), |e| Err((announced, e)))
    }

    /// Fails every running import whose last progress came before `now` minus the wait, unless
    /// it moves meanwhile.
    async fn fail_stalled(&self, now: DateTime<Utc>) -> Healed {
        let before = now - self.after.imports;
        let stalled = retried("list the stalled imports", || {
            self.imports.stalled(before, MAX_IMPORTS_PER_RUN)
        })
        .await
        .map_err(|e| (0, e))?;
        let reason = format!(
            "the import made no progress for {} minutes, longer than a delivery of its file can \
             take: its file was given up on; start a new import to load it",
            self.after.imports.num_minutes()
        );
        let mut failed = 0;
        let mut last_error = None;
        for import in stalled {
            let span = tracing::info_span!("import", import_id = %import.id);
            let fail = || {
                self.imports
                    .fail_stalled(import.id, import.updated_at, &reason, now)
            };
            match retried("fail the stalled import", fail)
                .instrument(span.clone())
                .await
            {
                Ok(true) => {
                    span.in_scope(|| tracing::warn!(since = %import.updated_at, "stalled; failed"));
                    failed += 1;
                }
                Ok(false) => span.in_scope(|| tracing::info!("moved on meanwhile; left running")),
                Err(e) => {
                    span.in_scope(|| tracing::error!(error = %e, "could not fail it"));
                    last_error = Some(e);
                }
            }
        }
        last_error.map_or(Ok(failed), |e| Err((failed, e)))
    }
}

/// What a half healed, or how much it healed before the last error it met.
type Healed = Result<usize, (usize, PortError)>;

fn healed(half: &Healed) -> usize {
    match half {
        Ok(n) | Err((n, _)) => *n,
    }
}

/// Both halves' outcome: the first error met, if any.
fn first_error(first: Healed, second: Healed) -> Result<(), PortError> {
    first.map_err(|(_, e)| e)?;
    second.map(|_| ()).map_err(|(_, e)| e)
}

/// A port call, with transient failures retried inside the invocation.
async fn retried<T, Fut>(what: &str, call: impl FnMut() -> Fut) -> Result<T, PortError>
where
    Fut: Future<Output = Result<T, PortError>>,
{
    PIPELINE.run(what, PortError::is_transient, call).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Settings(HashMap<&'static str, &'static str>);

    impl Source for Settings {
        fn get(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
    }

    fn after(pairs: &[(&'static str, &'static str)]) -> Result<After, ConfigError> {
        After::from_settings(&Settings(pairs.iter().copied().collect()))
    }

    #[test]
    fn the_waits_come_from_the_settings() {
        let both = after(&[
            ("RECONCILE_ORDERS_AFTER_SECONDS", "30"),
            ("RECONCILE_IMPORTS_AFTER_SECONDS", "2100"),
        ]);
        assert_eq!(
            both.unwrap(),
            After {
                orders: Duration::seconds(30),
                imports: Duration::seconds(2100)
            }
        );
        let default = after(&[("RECONCILE_IMPORTS_AFTER_SECONDS", "1")]).unwrap();
        assert_eq!(default.orders, Duration::minutes(10));
        assert_eq!(default.imports, Duration::seconds(1));
    }

    #[test]
    fn a_missing_or_malformed_wait_names_its_setting() {
        let missing = after(&[]).unwrap_err().to_string();
        assert!(
            missing.contains("RECONCILE_IMPORTS_AFTER_SECONDS"),
            "{missing}"
        );
        for bad in ["0", "-5", "ten", "604801", "1.5"] {
            let error = after(&[
                ("RECONCILE_ORDERS_AFTER_SECONDS", bad),
                ("RECONCILE_IMPORTS_AFTER_SECONDS", "60"),
            ])
            .unwrap_err()
            .to_string();
            assert!(
                error.contains("RECONCILE_ORDERS_AFTER_SECONDS"),
                "{bad}: {error}"
            );
        }
        let week = after(&[
            ("RECONCILE_ORDERS_AFTER_SECONDS", "604800"),
            ("RECONCILE_IMPORTS_AFTER_SECONDS", "60"),
        ]);
        assert_eq!(week.unwrap().orders, Duration::days(7));
    }
}
