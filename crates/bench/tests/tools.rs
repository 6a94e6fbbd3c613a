//! The bench's own tools work (the test command checks them; it never times anything).

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bench::load::{self, Request};
use bench::runtime_api::RuntimeApi;
use serde_json::{Value, json};

/// The emulator speaks the Runtime API as the Lambda runtime crate expects it: the runtime polls,
/// gets each event with its request id and deadline, and its answers come back in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_api_emulator_runs_a_lambda_runtime_client() {
    let api = RuntimeApi::start().await.unwrap();
    // SAFETY: this test binary has no other test reading the environment concurrently.
    unsafe {
        std::env::set_var("AWS_LAMBDA_RUNTIME_API", api.address());
        std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "echo");
        std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
        std::env::set_var("AWS_LAMBDA_FUNCTION_VERSION", "1");
        std::env::set_var("AWS_LAMBDA_LOG_STREAM_NAME", "bench");
        std::env::set_var("AWS_LAMBDA_LOG_GROUP_NAME", "bench");
    }
    tokio::spawn(lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<Value>| async move {
            match event.payload["fail"].as_bool() {
                Some(true) => Err(lambda_runtime::Error::from("asked to fail")),
                _ => Ok::<Value, lambda_runtime::Error>(
                    json!({"echo": event.payload, "id": event.context.request_id}),
                ),
            }
        },
    )));
    assert!(api.first_poll(Duration::from_secs(10)).await.is_some());
    for n in 0..3 {
        let answer = api
            .invoke(json!({"n": n}), Duration::from_secs(10))
            .await
            .unwrap();
        assert!(answer.ok);
        let body: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(body["echo"]["n"], n);
        assert!(!body["id"].as_str().unwrap().is_empty());
    }
    let failed = api
        .invoke(json!({"fail": true}), Duration::from_secs(10))
        .await
        .unwrap();
    assert!(!failed.ok);
    assert!(api.init_error().is_none());
}

/// The load generator sends every request at its rate and counts what came back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_sends_open_loop_and_counts_answers() {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let target = listener.local_addr().unwrap();
    // Each answer takes at least 20 ms, so the latencies the report gives have a known floor.
    let app = Router::new()
        .route(
            "/ok",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                "fine"
            }),
        )
        .route(
            "/missing",
            get(|| async { (axum::http::StatusCode::NOT_FOUND, "no") }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let request = |path: &str| Request {
        method: "GET",
        path: path.to_owned(),
        headers: vec![("accept".to_owned(), "text/plain".to_owned())],
        body: None,
    };
    let report = load::run(target, &request("/ok"), 200, Duration::from_millis(500)).await;
    assert_eq!((report.sent, report.ok, report.errors), (100, 100, 0));
    // Measured, not defaulted: every latency is at least the server's 20 ms.
    assert!(report.p50 >= Duration::from_millis(20), "{:?}", report.p50);
    assert!(
        report.max >= report.p99,
        "{:?} {:?}",
        report.max,
        report.p99
    );
    let refused = load::run(
        target,
        &request("/missing"),
        100,
        Duration::from_millis(200),
    )
    .await;
    assert_eq!((refused.sent, refused.ok, refused.errors), (20, 0, 20));
}
