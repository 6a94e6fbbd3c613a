//! An open-loop HTTP load generator: requests leave at a fixed rate whatever the answers do
//! (the i-th at start + i/rate), and each latency is measured from when the request was due,
//! not from when it was sent. So a slow server shows as latency instead of quietly lowering
//! the rate (no coordinated omission). HTTP/1.1 with keep-alive over a pool of connections,
//! as many as the requests in flight need.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// One request, as sent on the wire.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl Request {
    fn bytes(&self, host: &SocketAddr) -> Vec<u8> {
        let mut text = format!("{} {} HTTP/1.1\r\nhost: {host}\r\n", self.method, self.path);
        for (name, value) in &self.headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = self.body.as_deref().unwrap_or("");
        text.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
        text.into_bytes()
    }
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub rate: u32,
    pub sent: usize,
    /// Answers with a 2xx status.
    pub ok: usize,
    /// Answers of another status, and requests that got no answer.
    pub errors: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

type Pool = Arc<Mutex<Vec<TcpStream>>>;

/// Sends `request` to `target` at `rate` per second for `duration`, open loop.
pub async fn run(target: SocketAddr, request: &Request, rate: u32, duration: Duration) -> Report {
    let wire: Arc<[u8]> = Arc::from(request.bytes(&target));
    let pool: Pool = Arc::new(Mutex::new(Vec::new()));
    let count = (f64::from(rate) * duration.as_secs_f64()).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let due = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due).await;
        let (wire, pool) = (wire.clone(), pool.clone());
        tasks.push(tokio::spawn(async move {
            let status = exchange(target, &wire, &pool).await;
            (status, due.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    let mut report = Report {
        rate,
        sent: count,
        ..Report::default()
    };
    for task in tasks {
        match task.await {
            Ok((Some(status), took)) => {
                if (200..300).contains(&status) {
                    report.ok += 1;
                } else {
                    report.errors += 1;
                }
                latencies.push(took);
            }
            _ => report.errors += 1,
        }
    }
    latencies.sort();
    report.p50 = crate::nearest_rank(&latencies, 0.50);
    report.p99 = crate::nearest_rank(&latencies, 0.99);
    report.max = latencies.last().copied().unwrap_or_default();
    report
}

/// One request on a pooled (or new) connection: the answer's status, `None` if there was none.
async fn exchange(target: SocketAddr, wire: &[u8], pool: &Pool) -> Option<u16> {
    let pooled = pool.lock().ok().and_then(|mut p| p.pop());
    let mut stream = match pooled {
        Some(stream) => stream,
        None => {
            let stream = TcpStream::connect(target).await.ok()?;
            stream.set_nodelay(true).ok()?;
            stream
        }
    };
    stream.write_all(wire).await.ok()?;
    let status = read_response(&mut stream).await?;
    if let Ok(mut p) = pool.lock() {
        p.push(stream);
    }
    Some(status)
}

/// Reads one response (headers, then a `content-length` body) and returns its status.
async fn read_response(stream: &mut TcpStream) -> Option<u16> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = std::str::from_utf8(&buffer[..header_end]).ok()?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Some(status)
}
