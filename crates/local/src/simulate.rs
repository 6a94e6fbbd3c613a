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

/// `(accepted, rejected, dead-lettered)` so far.
fn progress(client: &Client) -> Result<(u64, u64, u64), String> {
    let s = client.get("/_local/stats")?;
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    Ok((
        n(&s["events"]["accepted"]),
        n(&s["events"]["rejected"]),
        n(&s["dead_letters"]),
    ))
}

pub fn run(args: &SimulateArgs) -> Result<(), String> {
    let key = tokens::key(&args.data_dir)?;
    let token = tokens::mint(&key, "ops", "simulations:run", None, 3600)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let client = Client {
        agent,
        base: format!("http://127.0.0.1:{}", args.port),
    };
    let before = progress(&client)?;

    let started = Instant::now();
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
    let enqueued = reply["enqueued"].as_u64().unwrap_or(0);
    let invalid = reply["invalid"].as_u64().unwrap_or(0);
    let enqueue_time = started.elapsed();

    let bar = ProgressBar::new(enqueued);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} orders ({per_sec}) {msg}",
        )
        .map_err(|e| e.to_string())?,
    );
    let (mut last_done, mut last_move) = (0, Instant::now());
    let (accepted, rejected, dead) = loop {
        let (a, r, d) = progress(&client)?;
        let counts = (
            a.saturating_sub(before.0),
            r.saturating_sub(before.1),
            d.saturating_sub(before.2),
        );
        let done = counts.0 + counts.1 + counts.2;
        bar.set_position(done.min(enqueued));
        bar.set_message(format!(
            "accepted {}, rejected {}, dead-lettered {}",
            counts.0, counts.1, counts.2
        ));
        if done >= enqueued {
            break counts;
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
    };
    bar.finish();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "Simulated {enqueued} orders ({invalid} malformed) in {elapsed:.1} s: {accepted} accepted, {rejected} rejected, {dead} dead-lettered; {:.0} orders/s end to end (enqueued in {:.1} s)",
        enqueued as f64 / elapsed.max(0.001),
        enqueue_time.as_secs_f64()
    );
    Ok(())
}
