//! Each function binary run as Lambda runs it, under the Runtime API emulator, with its real
//! adapters pointed at `delivery-local`'s DynamoDB and an SQS/SNS emulator: process start to
//! first poll (the cold start), the first invocation, warm invocations, peak RSS.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cpu_share::CpuShare;
use crate::runtime_api::{Answer, RuntimeApi};

/// The event of a function's `i`-th invocation.
pub type EventFor = Box<dyn Fn(usize) -> Value + Send + Sync>;

/// How a function is run: its environment, and its events.
pub struct Subject {
    pub name: &'static str,
    pub env: Vec<(String, String)>,
    pub event: EventFor,
}

/// What one function measured, in milliseconds and MB.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Measurement {
    pub function: String,
    /// The memory size whose CPU share it ran under; `None`: this machine's whole CPU.
    pub memory_mb: Option<u32>,
    pub start_to_first_poll_ms: f64,
    pub first_invocation_ms: f64,
    pub cold_total_ms: f64,
    pub warm_p50_ms: f64,
    pub warm_p99_ms: f64,
    pub peak_rss_mb: f64,
    pub zip_mb: Option<f64>,
    /// Invocations answered with an error (or a 5xx).
    pub failures: usize,
}

/// Long enough for the import of 100,000 rows.
const ANSWER_WITHIN: Duration = Duration::from_secs(120);

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

/// An answer that is a failure: an error, or an HTTP function's 5xx (its 4xx are answers).
fn failed(ok: bool, body: &[u8]) -> bool {
    let status = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["statusCode"].as_u64());
    !ok || status.is_some_and(|s| s >= 500)
}

/// The failures among `answers`, the first of them shown (its first 300 bytes), so that a
/// count in the table comes with its reason.
fn count_failures<'a>(name: &str, answers: impl Iterator<Item = &'a Answer>) -> usize {
    let failed: Vec<&Answer> = answers.filter(|a| failed(a.ok, &a.body)).collect();
    if let Some(first) = failed.first() {
        let body = String::from_utf8_lossy(&first.body[..first.body.len().min(300)]);
        eprintln!("{name}: {} failed; the first: {body}", failed.len());
    }
    failed.len()
}

/// Cold starts per function: this machine is shared, so one start can be an outlier; the table
/// shows the median.
const COLD_STARTS: usize = 5;

/// One cold start: the process, its emulator, and when it polled and answered first.
pub struct Cold {
    pub child: tokio::process::Child,
    api: RuntimeApi,
    first_poll: Duration,
    pub first: crate::runtime_api::Answer,
    total: Duration,
}

/// The command that starts `binary`: itself, or, under a CPU share, a shell that joins the
/// share's group and then becomes the binary (so that all of its start is under the quota).
fn command(binary: &Path, share: Option<&CpuShare>) -> tokio::process::Command {
    match share {
        None => tokio::process::Command::new(binary),
        Some(share) => {
            let mut shell = tokio::process::Command::new("/bin/sh");
            shell
                .arg("-c")
                .arg(r#"echo $$ > "$1" && exec "$0""#)
                .arg(binary)
                .arg(share.procs());
            shell
        }
    }
}

/// Starts `binary` as Lambda would (under `share`'s CPU, when given), and hands it its first
/// event.
pub async fn start_cold(
    binary: &Path,
    subject: &Subject,
    share: Option<&CpuShare>,
) -> Result<Cold, String> {
    let api = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let memory = share.map_or(256, |s| s.memory_mb);
    let started = Instant::now();
    let child = command(binary, share)
        .env_clear()
        .envs(lambda_env(subject.name, &api.address(), memory))
        .envs(subject.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let first_poll = api
        .first_poll(ANSWER_WITHIN)
        .await
        .ok_or_else(|| format!("{} never polled: {:?}", subject.name, api.init_error()))?;
    let first = api
        .invoke((subject.event)(0), ANSWER_WITHIN)
        .await
        .ok_or_else(|| format!("{} did not answer its first event", subject.name))?;
    Ok(Cold {
        child,
        api,
        first_poll: first_poll.saturating_duration_since(started),
        first,
        total: started.elapsed(),
    })
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    crate::nearest_rank(&values, 0.5)
}

/// Starts `binary` cold [`COLD_STARTS`] times (the medians), then invokes the last one warm
/// `invocations` times; all under `share`'s CPU when given.
pub async fn measure(
    binary: &Path,
    subject: &Subject,
    invocations: usize,
    share: Option<&CpuShare>,
) -> Result<Measurement, String> {
    let mut colds = Vec::with_capacity(COLD_STARTS);
    for _ in 0..COLD_STARTS {
        let mut cold = start_cold(binary, subject, share).await?;
        if colds.len() + 1 < COLD_STARTS {
            let _ = cold.child.kill().await;
        }
        colds.push(cold);
    }
    let first_poll = median(colds.iter().map(|c| c.first_poll).collect());
    let first_invocation = median(colds.iter().map(|c| c.first.took).collect());
    let cold_total = median(colds.iter().map(|c| c.total).collect());
    let Some(mut last) = colds.pop() else {
        return Err("no cold start".to_owned());
    };
    let mut warm = Vec::with_capacity(invocations);
    let mut answers: Vec<Answer> = Vec::with_capacity(invocations);
    for i in 1..=invocations {
        let answer = last
            .api
            .invoke((subject.event)(i), ANSWER_WITHIN)
            .await
            .ok_or_else(|| format!("{} did not answer event {i}", subject.name))?;
        warm.push(answer.took);
        answers.push(answer);
    }
    let colds = colds.iter().chain([&last]).map(|c| &c.first);
    let failures = count_failures(subject.name, colds.chain(&answers));
    let peak_rss_mb = peak_rss_mb(last.child.id().unwrap_or_default());
    let _ = last.child.kill().await;
    warm.sort();
    Ok(Measurement {
        function: subject.name.to_owned(),
        memory_mb: share.map(|s| s.memory_mb),
        start_to_first_poll_ms: ms(first_poll),
        first_invocation_ms: ms(first_invocation),
        cold_total_ms: ms(cold_total),
        warm_p50_ms: ms(crate::nearest_rank(&warm, 0.50)),
        warm_p99_ms: ms(crate::nearest_rank(&warm, 0.99)),
        peak_rss_mb,
        zip_mb: None,
        failures,
    })
}

/// What Lambda sets for every function, and nothing else: the process starts with an empty
/// environment (this machine's, with its `SSL_CERT_DIR` of 150 certificates, would cost a
/// start 3 ms that Lambda's does not), then this, then the subject's own settings. Lambda sets
/// no `SSL_CERT_FILE`, and neither does this: the functions trust the roots compiled into
/// them, and a run behind TLS adds its authority (`setup::behind_tls`).
fn lambda_env(name: &str, runtime_api: &str, memory_mb: u32) -> Vec<(String, String)> {
    let memory = memory_mb.to_string();
    [
        // Lambda's unreserved defaults for provided.al2023.
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
        ("LANG", "en_US.UTF-8"),
        ("TZ", ":UTC"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
        ("_HANDLER", "bootstrap"),
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", name),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory.as_str()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "bench"),
        ("AWS_REGION", "us-east-1"),
        // Lambda sets both; boto3 reads the second.
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The process's peak resident set, in MB to one decimal (0 when unreadable).
pub fn peak_rss_mb(pid: u32) -> f64 {
    peak_rss_kb(pid).map_or(0.0, |kb| (kb as f64 / 1024.0 * 10.0).round() / 10.0)
}

/// The process's peak resident set (`VmHWM`), in kB.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The table of measurements, as docs/performance.md shows it.
pub fn table(measured: &[Measurement]) -> String {
    let mut out = String::from(
        "| function | start → first poll | first invocation | cold total | warm p50 | warm p99 | peak RSS | zip | failures |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for m in measured {
        let zip = m.zip_mb.map_or("—".to_owned(), |z| format!("{z:.2} MB"));
        out.push_str(&format!(
            "| {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.2} ms | {:.2} ms | {:.1} MB | {zip} | {} |\n",
            m.function, m.start_to_first_poll_ms, m.first_invocation_ms, m.cold_total_ms,
            m.warm_p50_ms, m.warm_p99_ms, m.peak_rss_mb, m.failures
        ));
    }
    out
}

/// The measurements at Lambda's sizes, as docs/performance.md shows them.
pub fn sized_table(measured: &[Measurement]) -> String {
    let mut out = String::from(
        "| function | memory | CPU | start → first poll | first invocation | cold total | warm p50 | warm p99 | peak RSS |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for m in measured {
        let Some(memory) = m.memory_mb else { continue };
        out.push_str(&format!(
            "| {} | {memory} MB | {:.0} % | {:.1} ms | {:.1} ms | {:.1} ms | {:.2} ms | {:.2} ms | {:.1} MB |\n",
            m.function,
            crate::cpu_share::share(memory) * 100.0,
            m.start_to_first_poll_ms, m.first_invocation_ms, m.cold_total_ms,
            m.warm_p50_ms, m.warm_p99_ms, m.peak_rss_mb
        ));
    }
    out
}

/// The measurements as JSON.
pub fn json(measured: &[Measurement]) -> Value {
    json!(measured)
}
