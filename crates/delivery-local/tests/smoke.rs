//! `scripts/smoke-test`, the deploy pipeline's smoke test, run against a real `delivery-local`:
//! it must pass on a healthy stack, and fail with the step named when it cannot pass.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::Server;

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
        "ok   list products",
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
