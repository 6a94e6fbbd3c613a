//! `simulate`: floods the running stack with synthetic orders through `POST /simulations`,
//! follows them through the pipeline with a progress bar until the queues drain, then checks
//! the rehearsal's invariants (docs/rehearsal.md) from the stores themselves (the orders table, the stock, the SMS
//! outbox, the dead letters), never from its own counters, and exits non-zero when one fails.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::audit::{Audit, Snapshot};
use crate::{SimulateArgs, tokens};

/// Giving up when nothing moves for this long.
const STALL: Duration = Duration::from_secs(60);
/// Polls in a row that must find both queues empty before the run counts as drained.
const QUIET_POLLS: u32 = 3;
/// Attempts of a request the API answers with 429 or 503.
const RETRIES: u32 = 6;

pub struct Client {
    pub agent: ureq::Agent,
    base: String,
    token: String,
}

impl Client {
    /// A client of this machine's server for its local routes (which take no token).
    pub fn local(base: &str) -> Client {
        Client::with_token(base, "")
    }

    /// A client of this machine's server, with a bearer token.
    pub fn with_token(base: &str, token: &str) -> Client {
        Client {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
            base: base.to_owned(),
            token: token.to_owned(),
        }
    }

    /// `POST`s a JSON body; the answer, if its status is `expected`.
    pub fn post(&self, path: &str, body: &Value, expected: u16) -> Result<Value, String> {
        let (status, reply) = self.retrying(|| {
            self.agent
                .post(format!("{}{path}", self.base))
                .header("authorization", &format!("Bearer {}", self.token))
                .header("content-type", "application/json")
                .send(body.to_string())
        })?;
        if status != expected {
            return Err(format!(
                "POST {path} was refused ({status}): {}",
                reply["detail"].as_str().unwrap_or("no detail")
            ));
        }
        Ok(reply)
    }

    pub fn get(&self, path: &str) -> Result<Value, String> {
        let (status, body) = self.retrying(|| {
            self.agent
                .get(format!("{}{path}", self.base))
                .header("authorization", &format!("Bearer {}", self.token))
                .call()
        })?;
        if status != 200 {
            return Err(format!("GET {path} answered {status}: {body}"));
        }
        Ok(body)
    }

    /// A request's status and JSON answer; a 429 or 503 (the API asks to retry) is retried a
    /// few times with a growing pause, as a client of the API should.
    fn retrying(
        &self,
        send: impl Fn() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(u16, Value), String> {
        let mut pause = Duration::from_millis(50);
        let mut attempt = 1;
        loop {
            let mut response = send().map_err(|e| self.unreachable(e))?;
            let status = response.status().as_u16();
            if !matches!(status, 429 | 503) || attempt == RETRIES {
                return Ok((
                    status,
                    response.body_mut().read_json().unwrap_or(Value::Null),
                ));
            }
            std::thread::sleep(pause);
            (pause, attempt) = (pause * 2, attempt + 1);
        }
    }

    pub fn unreachable(&self, e: ureq::Error) -> String {
        format!(
            "cannot reach delivery-local at {} ({e}); start it with `delivery-local serve`",
            self.base
        )
    }
}

/// What the simulation put on the queue.
pub struct Enqueued {
    pub orders: u64,
    pub invalid: u64,
    pub order_ids: Vec<String>,
}

/// `POST /simulations`.
fn start(client: &Client, args: &SimulateArgs) -> Result<Enqueued, String> {
    let mut body = json!({"orders": args.orders, "invalid_ratio": args.invalid_ratio});
    if let Some(seed) = args.seed {
        body["seed"] = json!(seed);
    }
    if let Some(product) = &args.hot {
        body["product"] = json!(product);
    }
    let reply = client.post("/simulations", &body, 202)?;
    Ok(Enqueued {
        orders: reply["enqueued"].as_u64().unwrap_or(0),
        invalid: reply["invalid"].as_u64().unwrap_or(0),
        order_ids: reply["order_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| id.as_str().map(str::to_owned))
            .collect(),
    })
}

/// Orders handled so far (events published, dead letters): for the progress bar only.
fn handled(stats: &Value) -> u64 {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    n(&stats["events"]["accepted"]) + n(&stats["events"]["rejected"]) + n(&stats["dead_letters"])
}

/// Messages waiting or in flight on both queues.
fn busy(stats: &Value) -> u64 {
    ["orders_queue", "notifications_queue"]
        .iter()
        .map(|q| {
            stats[q]["visible"].as_u64().unwrap_or(0) + stats[q]["in_flight"].as_u64().unwrap_or(0)
        })
        .sum()
}

fn progress_bar(len: u64) -> Result<ProgressBar, String> {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} orders ({per_sec}) {msg}",
        )
        .map_err(|e| e.to_string())?,
    );
    Ok(bar)
}

/// Follows the pipeline until both queues are empty (retries, redeliveries and notifications
/// included), with a progress bar.
fn follow(client: &Client, enqueued: u64) -> Result<(), String> {
    let start = handled(&client.get("/_local/stats")?);
    let bar = progress_bar(enqueued)?;
    let (mut quiet, mut last_busy, mut last_move) = (0, u64::MAX, Instant::now());
    loop {
        let stats = client.get("/_local/stats")?;
        let (done, waiting) = (handled(&stats).saturating_sub(start), busy(&stats));
        bar.set_position(done.min(enqueued));
        bar.set_message(format!("{waiting} messages in the queues"));
        quiet = if waiting == 0 { quiet + 1 } else { 0 };
        if quiet >= QUIET_POLLS {
            bar.finish();
            return Ok(());
        }
        if waiting != last_busy {
            (last_busy, last_move) = (waiting, Instant::now());
        } else if last_move.elapsed() > STALL {
            bar.abandon();
            return Err(format!(
                "no progress for {} s with {waiting} messages in the queues; is the server still running?",
                STALL.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The stores once the reconciler has healed what it can: the queues drained, some accepted
/// orders of the run may still wait for their SMS because their event was lost (`sns.lose`);
/// the reconciler announces each again once it has waited `--reconcile-after`, at its next
/// run. Waits for that (and the pipeline after it) at most twice over, then answers the
/// stores as they are: an order still stuck is the audit's to report. Without a lost event
/// there is nothing to wait for.
fn heal(client: &Client, before: &Snapshot, run: &Enqueued) -> Result<Snapshot, String> {
    let lost = client.get("/_local/faults")?["injected"]["sns.lose"]
        .as_u64()
        .unwrap_or(0);
    if lost == 0 {
        return Snapshot::take(client);
    }
    let reconciler = client.get("/_local/stats")?["reconciler"].clone();
    let seconds = |k: &str| reconciler[k].as_u64().unwrap_or(0);
    let patience = Duration::from_secs(2 * (seconds("every_s") + seconds("after_s")) + 5);
    let started = Instant::now();
    let mut told = false;
    loop {
        let after = Snapshot::take(client)?;
        let stuck = Audit::of(before, &after, run).accepted;
        if stuck == 0 || started.elapsed() > patience {
            return Ok(after);
        }
        if !std::mem::replace(&mut told, true) {
            eprintln!(
                "{stuck} accepted orders wait for their SMS (a lost event?): waiting up to {} s for the reconciler (every {} s, after {} s)",
                patience.as_secs(),
                seconds("every_s"),
                seconds("after_s")
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The writes the run cost, per order: the bus's commits (queues, topic, outbox) and the
/// store's (DynamoDB), from `/_local/stats` before and after.
fn writes_per_order(before: &Value, after: &Value, orders: u64) -> String {
    let delta = |kind: &str| {
        after[kind]
            .as_u64()
            .unwrap_or(0)
            .saturating_sub(before[kind].as_u64().unwrap_or(0))
    };
    let (bus, store) = (delta("bus"), delta("store"));
    let per = |n: u64| n as f64 / orders.max(1) as f64;
    format!(
        "Writes: {:.2} per order ({:.2} to the store, {:.2} to the bus; {store} and {bus} in all)",
        per(bus + store),
        per(store),
        per(bus)
    )
}

pub fn run(args: &SimulateArgs) -> Result<(), String> {
    let key = tokens::key(&args.data_dir)?;
    let token = tokens::mint(&key, "ops", "simulations:run", None, 3600)?;
    let client = Client::with_token(&format!("http://127.0.0.1:{}", args.port), &token);
    let before = Snapshot::take(&client)?;
    let writes_before = client.get("/_local/stats")?["writes"].clone();
    let started = Instant::now();
    let enqueued = start(&client, args)?;
    let enqueue_time = started.elapsed();
    follow(&client, enqueued.orders)?;
    let after = heal(&client, &before, &enqueued)?;
    let elapsed = started.elapsed().as_secs_f64();
    let audit = Audit::of(&before, &after, &enqueued);
    println!(
        "Simulated {} orders ({} malformed) in {elapsed:.1} s: {} accepted ({} dispatched), {} rejected, {} dead-lettered; {:.0} orders/s end to end (enqueued in {:.1} s)",
        enqueued.orders,
        enqueued.invalid,
        audit.accepted + audit.dispatched,
        audit.dispatched,
        audit.rejected,
        audit.dead_lettered,
        enqueued.orders as f64 / elapsed.max(0.001),
        enqueue_time.as_secs_f64()
    );
    println!(
        "{}",
        writes_per_order(
            &writes_before,
            &client.get("/_local/stats")?["writes"],
            enqueued.orders
        )
    );
    print!("{}", audit.report());
    match audit.failures() {
        failures if failures.is_empty() => Ok(()),
        failures => Err(format!("invariants failed: {}", failures.join("; "))),
    }
}
