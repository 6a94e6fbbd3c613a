//! Metrics as CloudWatch Embedded Metric Format (EMF) lines (docs/operations.md lists them): one JSON line on stdout
//! per data point, which CloudWatch Logs turns into metrics of namespace `Delivery`, with the
//! function name as the dimension. Outside Lambda (`delivery-local`, tests) the same data
//! point is a debug log event instead, so that a terminal is not flooded, and goes to the
//! process's [`set_sink`] if it has one (`delivery-local`'s operator console): the console and
//! CloudWatch see the same metrics under the same names.

pub mod trace;

use std::sync::OnceLock;

use serde_json::json;

pub const NAMESPACE: &str = "Delivery";

/// Where a process outside Lambda sends its data points.
type Sink = Box<dyn Fn(&str, f64, Unit) + Send + Sync>;

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sends every later data point of this process to `sink` too (once per process; `false` if a
/// sink was already set). Lambda functions never set one: their data points are EMF lines.
pub fn set_sink(sink: impl Fn(&str, f64, Unit) + Send + Sync + 'static) -> bool {
    SINK.set(Box::new(sink)).is_ok()
}

/// A metric's unit, as CloudWatch names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// Every metric name the functions emit, in one place: the functions count with these, and
/// the local console, the dashboard and the alarms are checked against [`metric::ALL`] (the
/// wiring check reads the Terraform and the page for names outside it).
pub mod metric {
    pub const ORDERS_PLACED: &str = "OrdersPlaced";
    pub const ORDERS_ACCEPTED: &str = "OrdersAccepted";
    pub const ORDERS_REJECTED: &str = "OrdersRejected";
    pub const ORDERS_DISPATCHED: &str = "OrdersDispatched";
    pub const ORDERS_DEAD_LETTERED: &str = "OrdersDeadLettered";
    pub const ORDERS_RATE_LIMITED: &str = "OrdersRateLimited";
    pub const SMS_SENT: &str = "SmsSent";
    pub const SMS_REFUSED: &str = "SmsRefused";
    pub const PROCESSING_LATENCY: &str = "ProcessingLatency";
    /// From an order's 202 to its carrier's SMS, in milliseconds (`notify-carrier`).
    pub const ORDER_TO_SMS_LATENCY: &str = "OrderToSmsLatency";
    pub const IMPORTS_DONE: &str = "ImportsDone";
    pub const IMPORTS_FAILED: &str = "ImportsFailed";
    /// Accepted orders the reconciler announced again (their event was lost), per run.
    pub const ORDERS_RECONCILED: &str = "OrdersReconciled";
    /// Stalled imports the reconciler failed, per run.
    pub const IMPORTS_RECONCILED: &str = "ImportsReconciled";
    pub const FAULTS: &str = super::FAULTS;

    pub const ALL: &[&str] = &[
        ORDERS_PLACED,
        ORDERS_ACCEPTED,
        ORDERS_REJECTED,
        ORDERS_DISPATCHED,
        ORDERS_DEAD_LETTERED,
        ORDERS_RATE_LIMITED,
        SMS_SENT,
        SMS_REFUSED,
        PROCESSING_LATENCY,
        ORDER_TO_SMS_LATENCY,
        IMPORTS_DONE,
        IMPORTS_FAILED,
        ORDERS_RECONCILED,
        IMPORTS_RECONCILED,
        FAULTS,
    ];
}

/// The metric of a function's own faults: a 5xx answer, an event it failed for a reason of its
/// own. Not a refused token, not a delivery that will be retried: each function says which of
/// its failures are faults. Alarms watch it, and CodeDeploy rolls a new version back on it.
pub const FAULTS: &str = "Faults";

/// The EMF document for one data point of `metric`.
pub fn emf_line(function: &str, metric: &str, value: f64, unit: Unit, at_ms: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": at_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [{"Name": metric, "Unit": unit.as_str()}]
            }]
        },
        "Function": function,
        metric: value
    })
    .to_string()
}

/// The EMF document for one fault of `version` of `function`: by function (the environment's
/// alarm) and by function and version (a canary's rollback alarm, which must count the new
/// version's faults only, not the old one's still serving the rest of the traffic).
pub fn fault_line(function: &str, version: &str, at_ms: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": at_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"], ["Function", "Version"]],
                "Metrics": [{"Name": FAULTS, "Unit": "Count"}]
            }]
        },
        "Function": function,
        "Version": version,
        FAULTS: 1.0
    })
    .to_string()
}

/// Counts one fault of this function (see [`FAULTS`]). In Lambda, the version is the one
/// executing (`AWS_LAMBDA_FUNCTION_VERSION`, a number behind an alias).
pub fn fault() {
    match std::env::var("AWS_LAMBDA_FUNCTION_NAME") {
        Ok(function) => {
            let version = std::env::var("AWS_LAMBDA_FUNCTION_VERSION")
                .unwrap_or_else(|_| "$LATEST".to_owned());
            println!(
                "{}",
                fault_line(&function, &version, chrono::Utc::now().timestamp_millis())
            );
        }
        Err(_) => record(FAULTS, 1.0, Unit::Count),
    }
}

/// Records one data point.
pub fn record(metric: &str, value: f64, unit: Unit) {
    match std::env::var("AWS_LAMBDA_FUNCTION_NAME") {
        Ok(function) => println!(
            "{}",
            emf_line(
                &function,
                metric,
                value,
                unit,
                chrono::Utc::now().timestamp_millis()
            )
        ),
        Err(_) => {
            tracing::debug!(metric, value, unit = unit.as_str(), "metric");
            if let Some(sink) = SINK.get() {
                sink(metric, value, unit);
            }
        }
    }
}

/// Counts one event.
pub fn count(metric: &str) {
    record(metric, 1.0, Unit::Count);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_shape() {
        let line = emf_line(
            "order-processor",
            "OrdersAccepted",
            1.0,
            Unit::Count,
            1_700_000_000_000,
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Delivery");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "OrdersAccepted"
        );
        assert_eq!(v["Function"], "order-processor");
        assert_eq!(v["OrdersAccepted"], 1.0);
        assert!(!line.contains('\n'));
    }

    #[test]
    fn a_fault_is_counted_by_function_and_by_version() {
        let line = fault_line("delivery-prod-place-order", "42", 1_700_000_000_000);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Delivery");
        assert_eq!(directive["Metrics"][0]["Name"], "Faults");
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["Function"], ["Function", "Version"]])
        );
        assert_eq!(v["Function"], "delivery-prod-place-order");
        assert_eq!(v["Version"], "42");
        assert_eq!(v["Faults"], 1.0);
        assert!(!line.contains('\n'));
    }
}
