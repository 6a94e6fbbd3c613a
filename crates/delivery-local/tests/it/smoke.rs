//! `scripts/smoke-test`, the deploy pipeline's smoke test, run against a real `delivery-local`:
//! it must pass on a healthy stack, and fail with the step named when it cannot pass.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use crate::common::Server;

fn smoke_test(base: &str, token: Option<&str>) -> Output {
    smoke_test_with(base, token, &[])
}

fn smoke_test_with(base: &str, token: Option<&str>, env: &[(&str, &str)]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smoke-test");
    let mut command = Command::new("python3");
    command
        .arg(script)
        .arg(base)
        .env_remove("SMOKE_TOKEN")
        .env_remove("SMOKE_TOKEN_URL")
        .env_remove("SMOKE_PRODUCT_ID")
        .env_remove("SMOKE_COMPANY_TOKEN")
        .env_remove("SMOKE_COMPANY_CLIENT_ID")
        .env_remove("SMOKE_COMPANY_CLIENT_SECRET")
        .env("SMOKE_TIMEOUT", "60")
        .envs(env.iter().copied());
    if let Some(token) = token {
        command.env("SMOKE_TOKEN", token);
    }
    command.output().expect("python3 runs the smoke test")
}

#[test]
fn the_smoke_test_passes_against_delivery_local() {
    let server = Server::start();
    let company = server.company("acme");
    let out = smoke_test_with(
        &server.base,
        Some(&server.customer()),
        &[("SMOKE_COMPANY_TOKEN", &company)],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "ok   stock its own product smoke-order",
        "ok   list products: ordering smoke-order",
        "ok   get a bill",
        "ok   place an order",
        "ok   order dispatched to carrier",
        "ok   import a file",
        "smoke test passed",
    ] {
        assert!(stdout.contains(step), "no {step:?} in {stdout}");
    }
    // The order it placed was really dispatched: the carrier got its SMS.
    let sms = server.call("GET", "/_local/sms", None, None, &[]);
    assert_eq!(sms.json.as_array().map(Vec::len), Some(1), "{:?}", sms.json);
    // Its own product (as on a fresh environment with no product), unavailable again after.
    let own = server.call(
        "GET",
        "/products/smoke-order",
        Some(&server.customer()),
        None,
        &[],
    );
    assert_eq!(own.status, 200, "{:?}", own.json);
    assert_eq!(own.json["company_id"], "acme");
    assert_eq!(own.json["available"], false, "{:?}", own.json);
}

#[test]
fn the_smoke_test_fails_naming_the_step() {
    let server = Server::start();
    let expired = server.token_args(&[
        "--sub",
        "alice",
        "--scope",
        "products:read orders:write orders:read",
        "--expires-in",
        "-3600",
    ]);
    let out = smoke_test(&server.base, Some(&expired));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("smoke test FAILED: list products: expected 200, got 401"),
        "{stderr}"
    );

    let out = smoke_test(&server.base, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no token"));

    // A customer without orders:write gets as far as the bill.
    let reader = server.token_args(&["--sub", "bob", "--scope", "products:read"]);
    let out = smoke_test(&server.base, Some(&reader));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("get a bill: expected 200, got 403"),
        "{stderr}"
    );
}

#[test]
fn the_smoke_test_orders_the_product_it_is_told_to() {
    let server = Server::start();
    let customer = server.customer();
    let out = smoke_test_with(
        &server.base,
        Some(&customer),
        &[("SMOKE_PRODUCT_ID", "garlic-bread")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("ordering garlic-bread"), "{stdout}");

    let out = smoke_test_with(
        &server.base,
        Some(&customer),
        &[("SMOKE_PRODUCT_ID", "no-such-product")],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("get product no-such-product: expected 200, got 404"),
        "{stderr}"
    );
}

/// An OAuth 2.0 token endpoint for two clients (as a user pool's would be): each
/// client-credentials grant is recorded (client, form) and answered with that client's token.
fn token_endpoint(tokens: Vec<(&'static str, String)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/oauth2/token", listener.local_addr().unwrap());
    let grants = Arc::new(Mutex::new(Vec::new()));
    let recorded = grants.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut length, mut client) = (0, String::new());
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(n) = lower.strip_prefix("content-length: ") {
                    length = n.parse().unwrap();
                }
                if let Some(basic) = line.strip_prefix("Authorization: Basic ") {
                    use base64::Engine as _;
                    let pair = base64::engine::general_purpose::STANDARD
                        .decode(basic)
                        .unwrap();
                    client = String::from_utf8(pair).unwrap();
                }
            }
            let mut form = vec![0; length];
            reader.read_exact(&mut form).unwrap();
            let form = String::from_utf8(form).unwrap();
            recorded.lock().unwrap().push(format!("{client} {form}"));
            let token = tokens
                .iter()
                .find(|(c, _)| client.starts_with(&format!("{c}:")));
            let (status, body) = match token {
                Some((_, token)) => (
                    "200 OK",
                    format!(
                        r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600}}"#
                    ),
                ),
                None => (
                    "400 Bad Request",
                    r#"{"error":"invalid_client"}"#.to_owned(),
                ),
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).unwrap();
        }
    });
    (url, grants)
}

/// As a deploy with enable_cognito runs it: both tokens from client-credentials grants at the
/// pool's token endpoint (scripts/smoke-credentials sets these variables from the pool).
#[test]
fn the_smoke_test_gets_its_tokens_by_client_credentials() {
    let server = Server::start();
    let (url, grants) = token_endpoint(vec![
        ("customer-client", server.customer()),
        ("company-client", server.company("acme")),
    ]);
    let out = smoke_test_with(
        &server.base,
        None,
        &[
            ("SMOKE_TOKEN_URL", &url),
            ("SMOKE_CLIENT_ID", "customer-client"),
            ("SMOKE_CLIENT_SECRET", "customer-secret"),
            ("SMOKE_COMPANY_CLIENT_ID", "company-client"),
            ("SMOKE_COMPANY_CLIENT_SECRET", "company-secret"),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ok   import a file"), "{stdout}");
    let grants = grants.lock().unwrap().clone();
    assert_eq!(
        grants,
        [
            "customer-client:customer-secret grant_type=client_credentials&scope=products%3Aread+orders%3Awrite+orders%3Aread",
            "company-client:company-secret grant_type=client_credentials&scope=products%3Awrite",
        ]
    );

    // A company client without its secret is a mistake, named before anything is ordered.
    let out = smoke_test_with(
        &server.base,
        Some(&server.customer()),
        &[("SMOKE_COMPANY_CLIENT_ID", "company-client")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SMOKE_COMPANY_CLIENT_SECRET"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
