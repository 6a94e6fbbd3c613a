//! A Lambda Runtime API emulator, as documented
//! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>): a function binary started
//! with `AWS_LAMBDA_RUNTIME_API` pointing here polls `GET …/invocation/next`, gets one event at
//! a time with its request id and deadline, and answers it (`…/response` or `…/error`). The
//! emulator records when the first poll came (the end of the cold start) and how long each
//! invocation took, from handing out its event to its answer.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

const PREFIX: &str = "/2018-06-01/runtime";
/// The deadline each invocation is given.
const TIMEOUT: Duration = Duration::from_secs(30);

/// How one invocation ended.
#[derive(Debug)]
pub struct Answer {
    /// `true` for `…/response`, `false` for `…/error`.
    pub ok: bool,
    pub body: Bytes,
    /// From handing out the event to the answer.
    pub took: Duration,
}

struct Pending {
    id: String,
    event: Value,
    answer: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Pending>>,
    ready: Notify,
    /// Answers awaited, by request id, with when the event was handed out.
    out: Mutex<HashMap<String, (oneshot::Sender<Answer>, Instant)>>,
    first_poll: Mutex<Option<Instant>>,
    polled: Notify,
    init_error: Mutex<Option<String>>,
}

/// A running emulator.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl RuntimeApi {
    /// Listens on a free loopback port.
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route(&format!("{PREFIX}/invocation/next"), get(next))
            .route(
                &format!("{PREFIX}/invocation/{{id}}/response"),
                post(response),
            )
            .route(&format!("{PREFIX}/invocation/{{id}}/error"), post(error))
            .route(&format!("{PREFIX}/init/error"), post(init_error))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(RuntimeApi { addr, shared })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first polled for an event, once it has.
    pub async fn first_poll(&self, within: Duration) -> Option<Instant> {
        let polled = self.shared.polled.notified();
        if let Some(at) = *lock(&self.shared.first_poll) {
            return Some(at);
        }
        let _ = tokio::time::timeout(within, polled).await;
        *lock(&self.shared.first_poll)
    }

    /// The error the function reported while starting, if it did.
    pub fn init_error(&self) -> Option<String> {
        lock(&self.shared.init_error).clone()
    }

    /// Hands `event` to the function and waits (at most `within`) for its answer.
    pub async fn invoke(&self, event: Value, within: Duration) -> Option<Answer> {
        let (answer, answered) = oneshot::channel();
        let id = uuid::Uuid::new_v4().to_string();
        lock(&self.shared.queue).push_back(Pending { id, event, answer });
        self.shared.ready.notify_one();
        tokio::time::timeout(within, answered).await.ok()?.ok()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `GET …/invocation/next`: the next event, when there is one (a long poll, as Lambda's).
async fn next(State(shared): State<Arc<Shared>>) -> (StatusCode, HeaderMap, String) {
    {
        let mut first = lock(&shared.first_poll);
        if first.is_none() {
            *first = Some(Instant::now());
            shared.polled.notify_waiters();
        }
    }
    let pending = loop {
        let ready = shared.ready.notified();
        if let Some(p) = lock(&shared.queue).pop_front() {
            break p;
        }
        ready.await;
    };
    lock(&shared.out).insert(pending.id.clone(), (pending.answer, Instant::now()));
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| (d + TIMEOUT).as_millis());
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", pending.id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:local:000000000000:function:bench".to_owned(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
    );
    // As Lambda's: a runtime client that decodes by the content type (Python's awslambdaric)
    // hands the handler the event parsed, not its bytes.
    set("content-type", "application/json".to_owned());
    (StatusCode::OK, headers, pending.event.to_string())
}

fn answer(shared: &Shared, id: &str, ok: bool, body: Bytes) -> StatusCode {
    match lock(&shared.out).remove(id) {
        Some((sender, handed)) => {
            let took = handed.elapsed();
            let _ = sender.send(Answer { ok, body, took });
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    answer(&shared, &id, true, body)
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    answer(&shared, &id, false, body)
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    *lock(&shared.init_error) = Some(String::from_utf8_lossy(&body).into_owned());
    StatusCode::ACCEPTED
}
