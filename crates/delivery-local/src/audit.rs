//! The invariants of a rehearsal (docs/rehearsal.md), computed from the stores: the orders table, the
//! stock, the SMS outbox and the dead letters, read before and after the run.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::simulate::{Client, Enqueued};

/// An order as stored: its status and the quantity of each product.
struct StoredOrder {
    status: String,
    lines: Vec<(String, i64)>,
}

/// A dead letter: its queue, its reason, and the order it carries when it is one.
struct DeadLetter {
    reason: String,
    order_id: Option<String>,
}

/// What the stores hold at one moment.
pub struct Snapshot {
    stock: HashMap<String, i64>,
    orders: HashMap<String, StoredOrder>,
    dead_letters: Vec<DeadLetter>,
    /// The order id of each SMS in the outbox, oldest first.
    sms: Vec<String>,
    /// The windows of unknown SMS outcome the fault layer counted, by order.
    unknown_sms: HashMap<String, u64>,
}

fn array(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// The order a dead letter carries: an `order.placed` message or an order event.
fn carried_order(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v["order_id"]
        .as_str()
        .or(v["order"]["id"].as_str())
        .map(str::to_owned)
}

impl Snapshot {
    pub fn take(client: &Client) -> Result<Snapshot, String> {
        Ok(Snapshot {
            stock: stock(client)?,
            orders: array(client.get("/_local/orders")?)
                .iter()
                .map(|o| {
                    let lines = array(o["lines"].clone())
                        .iter()
                        .map(|l| (text(&l["product_id"]), l["quantity"].as_i64().unwrap_or(0)))
                        .collect();
                    let status = text(&o["status"]);
                    (text(&o["id"]), StoredOrder { status, lines })
                })
                .collect(),
            dead_letters: array(client.get("/_local/dlq")?)
                .iter()
                .map(|d| DeadLetter {
                    reason: text(&d["reason"]),
                    order_id: carried_order(d["body"].as_str().unwrap_or_default()),
                })
                .collect(),
            sms: array(client.get("/_local/sms")?)
                .iter()
                .map(|s| text(&s["order_id"]))
                .collect(),
            unknown_sms: match client.get("/_local/faults")?["unknown_sms_outcomes"].take() {
                Value::Object(windows) => windows
                    .into_iter()
                    .map(|(order, n)| (order, n.as_u64().unwrap_or(0)))
                    .collect(),
                _ => HashMap::new(),
            },
        })
    }
}

/// Every product's stock, as stored.
fn stock(client: &Client) -> Result<HashMap<String, i64>, String> {
    match client.get("/_local/stock")? {
        Value::Object(stock) => Ok(stock
            .into_iter()
            .map(|(id, n)| (id, n.as_i64().unwrap_or(0)))
            .collect()),
        other => Err(format!("GET /_local/stock answered {other}")),
    }
}

/// The invariants of one run.
#[derive(Debug, Default)]
pub struct Audit {
    pub accepted: u64,
    pub dispatched: u64,
    pub rejected: u64,
    pub dead_lettered: u64,
    valid: u64,
    recorded: u64,
    lost: u64,
    unexpected: u64,
    /// Valid orders dead-lettered and never handled (not rejected, not dispatched).
    valid_in_dlq: u64,
    /// Dead letters of valid orders that were handled anyway (a redelivery got through).
    redundant_dead_letters: u64,
    products: usize,
    stock_mismatches: Vec<String>,
    sms_missing: u64,
    sms_repeats: u64,
    /// The windows of unknown SMS outcome counted for the run's orders.
    sms_windows: u64,
    /// Repeated SMS beyond their order's windows: a bug, never a fault of the day.
    sms_repeats_beyond: u64,
    invalid: u64,
    malformed_in_dlq: u64,
    without_reason: u64,
}

impl Audit {
    pub fn of(before: &Snapshot, after: &Snapshot, run: &Enqueued) -> Audit {
        let ids: HashSet<&str> = run.order_ids.iter().map(String::as_str).collect();
        let mut audit = Audit {
            valid: ids.len() as u64,
            invalid: run.invalid,
            ..Audit::default()
        };
        audit.count_orders(after, &ids);
        audit.unexpected = after
            .orders
            .keys()
            .filter(|id| !before.orders.contains_key(*id) && !ids.contains(id.as_str()))
            .count() as u64;
        audit.check_dead_letters(before, after, &ids);
        audit.check_stock(before, after, &ids);
        audit.check_sms(before, after, &ids);
        audit
    }

    fn count_orders(&mut self, after: &Snapshot, ids: &HashSet<&str>) {
        for id in ids {
            match after.orders.get(*id).map(|o| o.status.as_str()) {
                Some("accepted") => self.accepted += 1,
                Some("dispatched") => self.dispatched += 1,
                Some("rejected") => self.rejected += 1,
                Some(_) => {}
                None => {
                    self.lost += 1;
                    continue;
                }
            }
            self.recorded += 1;
        }
    }

    /// The run's dead letters: malformed messages (each with its reason), and valid orders,
    /// which count against the run only when the order was never handled.
    fn check_dead_letters(&mut self, before: &Snapshot, after: &Snapshot, ids: &HashSet<&str>) {
        let new = &after.dead_letters[before.dead_letters.len().min(after.dead_letters.len())..];
        self.dead_lettered = new.len() as u64;
        for dead in new {
            let order = dead.order_id.as_deref().filter(|id| ids.contains(id));
            let handled = |id: &str| {
                after
                    .orders
                    .get(id)
                    .is_some_and(|o| matches!(o.status.as_str(), "rejected" | "dispatched"))
            };
            if let Some(id) = order {
                if handled(id) {
                    self.redundant_dead_letters += 1;
                } else {
                    self.valid_in_dlq += 1;
                }
            } else {
                self.malformed_in_dlq += 1;
            }
            if dead.reason.trim().is_empty() {
                self.without_reason += 1;
            }
        }
    }

    /// Stock before − what the run's orders reserved = stock after, for every product.
    fn check_stock(&mut self, before: &Snapshot, after: &Snapshot, ids: &HashSet<&str>) {
        let mut reserved: HashMap<&str, i64> = HashMap::new();
        for id in ids {
            let Some(order) = after.orders.get(*id) else {
                continue;
            };
            if matches!(order.status.as_str(), "accepted" | "dispatched") {
                for (product, quantity) in &order.lines {
                    *reserved.entry(product).or_default() += quantity;
                }
            }
        }
        self.products = before.stock.len();
        for (product, stock) in &before.stock {
            let expected = stock - reserved.get(product.as_str()).copied().unwrap_or(0);
            let actual = after.stock.get(product).copied().unwrap_or(0);
            if actual < 0 {
                self.stock_mismatches
                    .push(format!("{product}: oversold, stock {actual}"));
            } else if expected != actual {
                self.stock_mismatches
                    .push(format!("{product}: expected {expected}, found {actual}"));
            }
        }
    }

    /// One SMS per dispatched order of the run, among the SMS sent during it.
    fn check_sms(&mut self, before: &Snapshot, after: &Snapshot, ids: &HashSet<&str>) {
        let mut sent: HashMap<&str, u64> = HashMap::new();
        for order_id in &after.sms[before.sms.len().min(after.sms.len())..] {
            *sent.entry(order_id).or_default() += 1;
        }
        for id in ids {
            if after
                .orders
                .get(*id)
                .is_some_and(|o| o.status == "dispatched")
            {
                let windows = after.unknown_sms.get(*id).copied().unwrap_or(0);
                self.sms_windows += windows;
                match sent.get(id).copied().unwrap_or(0) {
                    0 => self.sms_missing += 1,
                    n => {
                        self.sms_repeats += n - 1;
                        self.sms_repeats_beyond += (n - 1).saturating_sub(windows);
                    }
                }
            }
        }
    }

    /// Each invariant that does not hold, in words.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        let mut fail = |holds: bool, what: String| {
            if !holds {
                failures.push(what);
            }
        };
        fail(self.lost == 0, format!("{} valid orders lost", self.lost));
        fail(
            self.unexpected == 0,
            format!("{} orders recorded that nobody placed", self.unexpected),
        );
        fail(
            self.accepted == 0,
            format!("{} orders stuck accepted, never dispatched", self.accepted),
        );
        fail(
            self.valid_in_dlq == 0,
            format!("{} valid orders in a DLQ", self.valid_in_dlq),
        );
        fail(
            self.stock_mismatches.is_empty(),
            format!("stock not conserved: {}", self.stock_mismatches.join(", ")),
        );
        fail(
            self.sms_missing == 0,
            format!("{} dispatched orders without an SMS", self.sms_missing),
        );
        fail(
            self.sms_repeats_beyond == 0,
            format!(
                "{} SMS repeated where no outcome was unknown",
                self.sms_repeats_beyond
            ),
        );
        fail(
            self.malformed_in_dlq >= self.invalid,
            format!(
                "{} of {} malformed messages in the DLQ",
                self.malformed_in_dlq, self.invalid
            ),
        );
        fail(
            self.without_reason == 0,
            format!("{} dead letters without a reason", self.without_reason),
        );
        failures
    }

    /// The invariants, one per line, each marked `ok` or `FAILED`.
    pub fn report(&self) -> String {
        let mark = |holds: bool| if holds { "ok" } else { "FAILED" };
        let lines = [
            (
                self.lost == 0 && self.unexpected == 0,
                format!(
                    "valid orders recorded exactly once: {} of {} (lost {}, duplicated {})",
                    self.recorded, self.valid, self.lost, self.unexpected
                ),
            ),
            (
                self.accepted == 0,
                format!("none stuck: {} accepted but not dispatched", self.accepted),
            ),
            (
                self.valid_in_dlq == 0,
                format!(
                    "no valid order left in a DLQ: {} ({} dead letters of orders handled anyway)",
                    self.valid_in_dlq, self.redundant_dead_letters
                ),
            ),
            (
                self.stock_mismatches.is_empty(),
                format!(
                    "stock conserved: {} products, before - accepted = after ({} differ)",
                    self.products,
                    self.stock_mismatches.len()
                ),
            ),
            (
                self.sms_missing == 0,
                format!(
                    "no SMS lost: {} dispatched, {} without SMS",
                    self.dispatched, self.sms_missing
                ),
            ),
            (
                self.sms_repeats_beyond == 0,
                format!(
                    "an SMS repeated only where its outcome was unknown: {} repeated, {} windows (an SMS call timed out after sending, an invocation ended between the SMS and its record), {} beyond them",
                    self.sms_repeats, self.sms_windows, self.sms_repeats_beyond
                ),
            ),
            (
                self.malformed_in_dlq >= self.invalid && self.without_reason == 0,
                format!(
                    "malformed messages in the DLQ with their reasons: {} of {} ({} dead letters in all)",
                    self.malformed_in_dlq.min(self.invalid),
                    self.invalid,
                    self.dead_lettered
                ),
            ),
        ];
        let mut out = String::from("Invariants, from the stores:\n");
        for (holds, line) in lines {
            out.push_str(&format!("  [{}] {line}\n", mark(holds)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stores before a run: two products in stock, nothing else.
    fn before() -> Snapshot {
        Snapshot {
            stock: HashMap::from([("p1".to_owned(), 10), ("p2".to_owned(), 5)]),
            orders: HashMap::new(),
            dead_letters: Vec::new(),
            sms: Vec::new(),
            unknown_sms: HashMap::new(),
        }
    }

    fn order(status: &str, lines: &[(&str, i64)]) -> StoredOrder {
        StoredOrder {
            status: status.to_owned(),
            lines: lines.iter().map(|(p, q)| (p.to_string(), *q)).collect(),
        }
    }

    /// A run of three valid orders and one malformed message, every invariant holding: o1 and
    /// o2 dispatched (one SMS each), o3 rejected, the malformed one dead-lettered with its
    /// reason.
    fn good_run() -> (Snapshot, Enqueued) {
        let after = Snapshot {
            stock: HashMap::from([("p1".to_owned(), 7), ("p2".to_owned(), 4)]),
            orders: HashMap::from([
                ("o1".to_owned(), order("dispatched", &[("p1", 3)])),
                ("o2".to_owned(), order("dispatched", &[("p2", 1)])),
                ("o3".to_owned(), order("rejected", &[("p1", 99)])),
            ]),
            dead_letters: vec![DeadLetter {
                reason: "not an order".to_owned(),
                order_id: None,
            }],
            sms: vec!["o1".to_owned(), "o2".to_owned()],
            unknown_sms: HashMap::new(),
        };
        let run = Enqueued {
            orders: 4,
            invalid: 1,
            order_ids: vec!["o1".to_owned(), "o2".to_owned(), "o3".to_owned()],
        };
        (after, run)
    }

    /// The audit of a good run after `break_it`, its failures and its report.
    fn audited(break_it: impl FnOnce(&mut Snapshot)) -> (Vec<String>, String) {
        let (mut after, run) = good_run();
        break_it(&mut after);
        let audit = Audit::of(&before(), &after, &run);
        (audit.failures(), audit.report())
    }

    #[test]
    fn a_good_run_holds_every_invariant() {
        let (failures, report) = audited(|_| {});
        assert!(failures.is_empty(), "{failures:?}");
        assert!(!report.contains("FAILED"), "{report}");
        assert_eq!(report.matches("[ok]").count(), 7, "{report}");
    }

    /// Each broken store fails its own line, and names what broke.
    #[test]
    fn each_broken_invariant_fails_its_line() {
        type Break = Box<dyn FnOnce(&mut Snapshot)>;
        let cases: Vec<(Break, &str)> = vec![
            (
                Box::new(|a| drop(a.orders.remove("o3"))),
                "1 valid orders lost",
            ),
            (
                Box::new(|a| drop(a.orders.insert("x".into(), order("rejected", &[])))),
                "1 orders recorded that nobody placed",
            ),
            (
                Box::new(|a| {
                    a.orders
                        .insert("o2".into(), order("accepted", &[("p2", 1)]));
                    a.sms.pop();
                }),
                "1 orders stuck accepted",
            ),
            (
                Box::new(|a| {
                    a.orders
                        .insert("o2".into(), order("accepted", &[("p2", 1)]));
                    a.sms.pop();
                    a.dead_letters.push(DeadLetter {
                        reason: "retries exhausted".into(),
                        order_id: Some("o2".into()),
                    });
                }),
                "1 valid orders in a DLQ",
            ),
            (
                Box::new(|a| {
                    a.stock.insert("p1".into(), 8);
                }),
                "stock not conserved: p1: expected 7, found 8",
            ),
            (
                Box::new(|a| {
                    a.stock.insert("p2".into(), -1);
                }),
                "p2: oversold",
            ),
            (
                Box::new(|a| drop(a.sms.pop())),
                "1 dispatched orders without an SMS",
            ),
            (
                Box::new(|a| a.sms.push("o1".into())),
                "1 SMS repeated where no outcome was unknown",
            ),
            (
                Box::new(|a| drop(a.dead_letters.pop())),
                "0 of 1 malformed messages in the DLQ",
            ),
            (
                Box::new(|a| a.dead_letters[0].reason = " ".into()),
                "1 dead letters without a reason",
            ),
        ];
        for (break_it, says) in cases {
            let (failures, report) = audited(break_it);
            assert!(
                failures.iter().any(|f| f.contains(says)),
                "{says}: {failures:?}"
            );
            assert!(report.contains("FAILED"), "{says}: {report}");
        }
    }

    #[test]
    fn a_repeated_sms_passes_only_within_its_windows_of_unknown_outcome() {
        let repeat = |windows: u64, copies: usize| {
            audited(move |a| {
                a.sms.extend(std::iter::repeat_n("o1".to_owned(), copies));
                if windows > 0 {
                    a.unknown_sms.insert("o1".into(), windows);
                }
            })
        };
        let (failures, report) = repeat(1, 1);
        assert!(failures.is_empty(), "{failures:?}");
        assert!(report.contains("1 repeated, 1 windows"), "{report}");
        let (failures, _) = repeat(1, 2);
        assert_eq!(failures, ["1 SMS repeated where no outcome was unknown"]);
        // A window of another order allows nothing here.
        let (failures, _) = audited(|a| {
            a.sms.push("o1".into());
            a.unknown_sms.insert("o2".into(), 3);
        });
        assert_eq!(failures, ["1 SMS repeated where no outcome was unknown"]);
    }

    #[test]
    fn a_dead_letter_of_an_order_handled_anyway_is_no_failure() {
        let (failures, report) = audited(|a| {
            a.dead_letters.push(DeadLetter {
                reason: "receive 5".into(),
                order_id: Some("o1".into()),
            })
        });
        assert!(failures.is_empty(), "{failures:?}");
        assert!(
            report.contains("(1 dead letters of orders handled anyway)"),
            "{report}"
        );
    }
}
