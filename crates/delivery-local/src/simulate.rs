//! `simulate`: floods the running stack with synthetic orders through `POST /simulations`,
//! follows them through the pipeline with a progress bar, and prints a summary.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::{SimulateArgs, tokens};

/// Giving up when nothing moves for this long.
const STALL: Duration = Duration::from_secs(60);

struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    fn get(&self, path: &str) -> Result<Value, String> {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.base))
            .call()
            .map_err(|e| self.unreachable(e))?;
        r.body_mut().read_json().map_err(|e| e.to_string())
    }

    fn unreachable(&self, e: ureq::Error) -> String {
        format!(
            "cannot reach delivery-local at {} ({e}); start it with `delivery-local serve`",
            self.base
        )
    }
}

/// What became of the orders so far.
#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    accepted: u64,
    rejected: u64,
    dead_lettered: u64,
}

impl Progress {
    fn read(client: &Client) -> Result<Progress, String> {
        let s = client.get("/_local/stats")?;
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        Ok(Progress {
            accepted: n(&s["events"]["accepted"]),
            rejected: n(&s["events"]["rejected"]),
            dead_lettered: n(&s["dead_letters"]),
        })
    }

    fn since(self, before: Progress) -> Progress {
        Progress {
            accepted: self.accepted.saturating_sub(before.accepted),
            rejected: self.rejected.saturating_sub(before.rejected),
            dead_lettered: self.dead_lettered.saturating_sub(before.dead_lettered),
        }
    }

    fn done(self) -> u64 {
        self.accepted + self.rejected + self.dead_lettered
    }
}

/// What the simulation put on the queue.
struct Enqueued {
    orders: u64,
    invalid: u64,
}

/// `POST /simulations` with an operator token signed by the data dir's key.
fn start(client: &Client, args: &SimulateArgs) -> Result<Enqueued, String> {
    let key = tokens::key(&args.data_dir)?;
    let token = tokens::mint(&key, "ops", "simulations:run", None, 3600)?;
    let mut body = json!({"orders": args.orders, "invalid_ratio": args.invalid_ratio});
    if let Some(seed) = args.seed {
        body["seed"] = json!(seed);
    }
    let mut response = client
        .agent
        .post(format!("{}/simulations", client.base))
        .header("authorization", &format!("Bearer {token}"))
        .header("content-type", "application/json")
        .send(body.to_string())
        .map_err(|e| client.unreachable(e))?;
    let status = response.status().as_u16();
    let reply: Value = response.body_mut().read_json().unwrap_or(Value::Null);
    if status != 202 {
        return Err(format!(
            "the simulation was refused ({status}): {}",
            reply["detail"].as_str().unwrap_or("no detail")
        ));
    }
    Ok(Enqueued {
        orders: reply["enqueued"].as_u64().unwrap_or(0),
        invalid: reply["invalid"].as_u64().unwrap_or(0),
    })
}

/// Follows the pipeline with a progress bar until every enqueued order is accounted for.
fn follow(client: &Client, before: Progress, enqueued: u64) -> Result<Progress, String> {
    let bar = ProgressBar::new(enqueued);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} orders ({per_sec}) {msg}",
        )
        .map_err(|e| e.to_string())?,
    );
    let (mut last_done, mut last_move) = (0, Instant::now());
    loop {
        let now = Progress::read(client)?.since(before);
        let done = now.done();
        bar.set_position(done.min(enqueued));
        bar.set_message(format!(
            "accepted {}, rejected {}, dead-lettered {}",
            now.accepted, now.rejected, now.dead_lettered
        ));
        if done >= enqueued {
            bar.finish();
            return Ok(now);
        }
        if done > last_done {
            (last_done, last_move) = (done, Instant::now());
        } else if last_move.elapsed() > STALL {
            bar.abandon();
            return Err(format!(
                "no progress for {} s at {done}/{enqueued}; is the server still running?",
                STALL.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn run(args: &SimulateArgs) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let client = Client {
        agent,
        base: format!("http://127.0.0.1:{}", args.port),
    };
    let before = Progress::read(&client)?;
    let started = Instant::now();
    let enqueued = start(&client, args)?;
    let enqueue_time = started.elapsed();
    let end = follow(&client, before, enqueued.orders)?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "Simulated {} orders ({} malformed) in {elapsed:.1} s: {} accepted, {} rejected, {} dead-lettered; {:.0} orders/s end to end (enqueued in {:.1} s)",
        enqueued.orders,
        enqueued.invalid,
        end.accepted,
        end.rejected,
        end.dead_lettered,
        enqueued.orders as f64 / elapsed.max(0.001),
        enqueue_time.as_secs_f64()
    );
    Ok(())
}
