//! The operator console's numbers, a sample a second (`GET /_local/metrics/stream`, as
//! server-sent events). The counts and latencies are the metrics the functions emit as EMF in
//! Lambda, under the same names (`OrdersPlaced`, `OrdersAccepted`, `OrdersRejected`,
//! `OrdersDispatched`, `OrdersDeadLettered`, `SmsSent`, `ProcessingLatency`, `OrderToSmsLatency`,
//! the reconciler's `OrdersReconciled` and `ImportsReconciled`), received through
//! `telemetry::set_sink`; the queue's depth and in-flight count are SQS's
//! `ApproximateNumberOfMessagesVisible` / `NotVisible`, read from the local queue; the faults are
//! those the fault layer injected in that second.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use bus_embedded::{Bus, NOTIFICATIONS, ORDERS};
use faults::Faults;
use futures::StreamExt;
use serde_json::{Value, json};
use telemetry::Unit;
use tokio::sync::{broadcast, watch};

/// The counted metrics, always in a sample (0 when nothing happened).
pub const COUNTED: [&str; 8] = [
    telemetry::metric::ORDERS_PLACED,
    telemetry::metric::ORDERS_ACCEPTED,
    telemetry::metric::ORDERS_REJECTED,
    telemetry::metric::ORDERS_DISPATCHED,
    telemetry::metric::ORDERS_DEAD_LETTERED,
    telemetry::metric::SMS_SENT,
    telemetry::metric::ORDERS_RECONCILED,
    telemetry::metric::IMPORTS_RECONCILED,
];
/// How many seconds a newly opened console is sent at once.
const HISTORY: usize = 300;

#[derive(Default)]
struct Window {
    counts: BTreeMap<String, f64>,
    /// The processor's latencies (`ProcessingLatency`).
    latencies: Vec<f64>,
    /// From each order's 202 to its SMS (`OrderToSmsLatency`).
    to_sms: Vec<f64>,
}

/// The data points of the current second, the last samples, and their subscribers.
pub struct Metrics {
    window: Mutex<Window>,
    history: Mutex<VecDeque<Arc<str>>>,
    samples: broadcast::Sender<Arc<str>>,
    closed: watch::Sender<bool>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics {
            window: Mutex::new(Window::default()),
            history: Mutex::new(VecDeque::new()),
            samples: broadcast::channel(64).0,
            closed: watch::channel(false).0,
        })
    }

    /// One data point of a function's metric.
    pub fn observe(&self, metric: &str, value: f64, unit: Unit) {
        let Ok(mut window) = self.window.lock() else {
            return;
        };
        match unit {
            Unit::Milliseconds if metric == telemetry::metric::PROCESSING_LATENCY => {
                window.latencies.push(value)
            }
            Unit::Milliseconds if metric == telemetry::metric::ORDER_TO_SMS_LATENCY => {
                window.to_sms.push(value)
            }
            Unit::Milliseconds => {}
            Unit::Count => *window.counts.entry(metric.to_owned()).or_default() += value,
        }
    }

    /// Samples every second until the server stops.
    pub fn start(self: &Arc<Metrics>, bus: Bus, faults: Arc<Faults>) {
        let metrics = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            let mut closed = metrics.closed.subscribe();
            let mut injected = faults.injected();
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = closed.changed() => return,
                }
                let now = faults.injected();
                let sample = metrics.sample(&bus, per_second(&injected, &now));
                injected = now;
                metrics.publish(sample);
            }
        });
    }

    /// Ends every stream, so that a graceful shutdown is not held open by a console.
    pub fn close(&self) {
        let _ = self.closed.send(true);
    }

    fn sample(&self, bus: &Bus, faults: BTreeMap<&'static str, u64>) -> Value {
        let window = self
            .window
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default();
        let mut sample = json!({
            "t": chrono::Utc::now().timestamp_millis(),
            telemetry::metric::PROCESSING_LATENCY: percentiles(window.latencies),
            telemetry::metric::ORDER_TO_SMS_LATENCY: percentiles(window.to_sms),
            "Faults": faults,
        });
        for name in COUNTED {
            sample[name] = json!(window.counts.get(name).copied().unwrap_or(0.0));
        }
        let (orders, notifications) = (bus.counts(ORDERS.name), bus.counts(NOTIFICATIONS.name));
        if let (Ok(orders), Ok(notifications)) = (orders, notifications) {
            sample["ApproximateNumberOfMessagesVisible"] = json!(orders.visible);
            sample["ApproximateNumberOfMessagesNotVisible"] = json!(orders.in_flight);
            sample["DeadLetters"] = json!(orders.dead + notifications.dead);
            sample["NotificationsWaiting"] = json!(notifications.visible + notifications.in_flight);
        }
        sample
    }

    fn publish(&self, sample: Value) {
        let text: Arc<str> = Arc::from(sample.to_string());
        if let Ok(mut history) = self.history.lock() {
            if history.len() == HISTORY {
                history.pop_front();
            }
            history.push_back(text.clone());
        }
        let _ = self.samples.send(text);
    }

    /// The stream a console reads: the last samples at once, then each new one.
    pub fn stream(&self) -> axum::response::Response {
        let past: Vec<Arc<str>> = self
            .history
            .lock()
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default();
        let live = (self.samples.subscribe(), self.closed.subscribe());
        let live = futures::stream::unfold(live, |(mut samples, mut closed)| async move {
            loop {
                tokio::select! {
                    sample = samples.recv() => match sample {
                        Ok(s) => return Some((s, (samples, closed))),
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = closed.changed() => return None,
                }
            }
        });
        let events = futures::stream::iter(past)
            .chain(live)
            .map(|s| Ok::<Event, Infallible>(Event::default().data(&*s)));
        Sse::new(events)
            .keep_alive(KeepAlive::default())
            .into_response()
    }
}

/// What was injected between two readings of the counters, by fault.
fn per_second(
    before: &BTreeMap<&'static str, u64>,
    now: &BTreeMap<&'static str, u64>,
) -> BTreeMap<&'static str, u64> {
    now.iter()
        .map(|(name, n)| (*name, n - before.get(name).copied().unwrap_or(0).min(*n)))
        .collect()
}

/// p50 and p99 by nearest rank, and how many data points; nulls when there were none.
fn percentiles(mut latencies: Vec<f64>) -> Value {
    if latencies.is_empty() {
        return json!({"p50": null, "p99": null, "count": 0});
    }
    latencies.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let index = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        latencies[index - 1]
    };
    json!({"p50": rank(0.50), "p99": rank(0.99), "count": latencies.len()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let p = percentiles((1..=100).map(f64::from).collect());
        assert_eq!(
            (p["p50"].as_f64(), p["p99"].as_f64()),
            (Some(50.0), Some(99.0))
        );
        assert_eq!(percentiles(vec![7.0])["p99"], 7.0);
        assert!(percentiles(Vec::new())["p50"].is_null());
    }

    #[test]
    fn counts_and_latencies_go_to_the_current_second() {
        let metrics = Metrics::new();
        metrics.observe("OrdersAccepted", 1.0, Unit::Count);
        metrics.observe("OrdersAccepted", 1.0, Unit::Count);
        metrics.observe("ProcessingLatency", 12.0, Unit::Milliseconds);
        metrics.observe("OrderToSmsLatency", 30.0, Unit::Milliseconds);
        metrics.observe("SomeOtherLatency", 99.0, Unit::Milliseconds);
        let window = metrics.window.lock().unwrap();
        assert_eq!(window.counts["OrdersAccepted"], 2.0);
        assert_eq!(window.latencies, [12.0]);
        assert_eq!(window.to_sms, [30.0]);
    }

    #[test]
    fn faults_per_second_are_the_difference_of_the_counters() {
        let before = BTreeMap::from([("sqs.duplicate", 3), ("sms.fail", 1)]);
        let now = BTreeMap::from([("sqs.duplicate", 5), ("sms.fail", 1)]);
        let second = per_second(&before, &now);
        assert_eq!((second["sqs.duplicate"], second["sms.fail"]), (2, 0));
    }
}
