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

/// A TLS front answers for its plain upstream to a client that trusts the run's authority (as
/// the functions do through `SSL_CERT_FILE`), and to no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_front_relays_to_its_upstream_for_a_client_trusting_the_run_s_authority() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().route("/ok", get(|| async { "fine" }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().unwrap();
    let authority = bench::tls::Authority::new(dir.path(), None).unwrap();
    let front = authority.front(&upstream).await.unwrap();
    let address = front.strip_prefix("https://").unwrap().to_owned();

    let connect = |roots: rustls::RootCertStore| {
        let address = address.clone();
        async move {
            let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
            let tcp = tokio::net::TcpStream::connect(&address).await.unwrap();
            let name = ServerName::try_from("127.0.0.1").unwrap();
            connector.connect(name, tcp).await
        }
    };
    let mut trusted = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&authority.ca_file).unwrap() {
        trusted.add(cert.unwrap()).unwrap();
    }
    let mut tls = connect(trusted).await.unwrap();
    tls.write_all(b"GET /ok HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.ok();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("fine"), "{answer}");

    let untrusted = connect(rustls::RootCertStore::empty()).await;
    assert!(
        untrusted.is_err(),
        "a client without the authority is refused"
    );
}
