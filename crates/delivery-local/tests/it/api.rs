//! `delivery-local serve` started on an ephemeral port with a temporary data dir, driven over
//! HTTP as a client would.

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use crate::common::{BIN, ORIGIN, Server};
use serde_json::json;

fn product_body(price: &str, stock: u32) -> String {
    json!({"name": "Test pizza", "price": {"amount": price, "currency": "USD"}, "stock": stock})
        .to_string()
}

#[test]
fn pages_the_seeded_catalog_every_product_exactly_once() {
    let s = Server::start();
    let token = s.customer();
    let mut seen = Vec::new();
    let mut path = "/products?limit=5".to_owned();
    loop {
        let r = s.call("GET", &path, Some(&token), None, &[]);
        assert_eq!(r.status, 200, "{}", r.json);
        seen.extend(
            r.json["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned()),
        );
        match r.json["next_cursor"].as_str() {
            Some(c) => path = format!("/products?limit=5&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 12);
    let acme = s.call(
        "GET",
        "/products?company_id=acme&limit=100",
        Some(&token),
        None,
        &[],
    );
    assert_eq!(acme.json["items"].as_array().unwrap().len(), 6);
    let one = s.call("GET", "/products/pizza-margherita", Some(&token), None, &[]);
    assert_eq!((one.status, one.header("etag")), (200, "\"1\""));
    assert_eq!(
        one.json["price"],
        json!({"amount": "12.50", "currency": "USD"})
    );
    assert_eq!(s.call("GET", "/_local/health", None, None, &[]).status, 200);
}

#[test]
fn every_status_code_of_the_api() {
    let s = Server::start();
    let alice = s.customer();
    let acme = s.company("acme");
    let globex = s.company("globex");

    // 401: no token, garbage, expired, signed by another key.
    assert_eq!(s.call("GET", "/products", None, None, &[]).status, 401);
    let r = s.call("GET", "/products", Some("not.a.jwt"), None, &[]);
    assert_eq!(
        (
            r.status,
            r.header("content-type"),
            r.header("www-authenticate")
        ),
        (401, "application/problem+json", "Bearer")
    );
    let expired = s.token_args(&[
        "--sub",
        "alice",
        "--scope",
        "products:read",
        "--expires-in",
        "-120",
    ]);
    assert_eq!(
        s.call("GET", "/products", Some(&expired), None, &[]).status,
        401
    );
    let other = Server::start();
    assert_eq!(
        s.call("GET", "/products", Some(&other.customer()), None, &[])
            .status,
        401
    );

    // 403: no scope for the route; another company's product.
    assert_eq!(
        s.call(
            "PUT",
            "/products/x",
            Some(&alice),
            Some(&product_body("1.00", 1)),
            &[]
        )
        .status,
        403
    );
    assert_eq!(
        s.call(
            "PATCH",
            "/products/pizza-margherita",
            Some(&globex),
            Some(r#"{"stock": 0}"#),
            &[]
        )
        .status,
        403
    );
    // 404 and 405.
    assert_eq!(s.call("GET", "/nope", Some(&alice), None, &[]).status, 404);
    assert_eq!(
        s.call("GET", "/products/nope", Some(&alice), None, &[])
            .status,
        404
    );
    let r = s.call("DELETE", "/products/x", Some(&alice), None, &[]);
    assert_eq!((r.status, r.header("allow")), (405, "GET, PUT, PATCH"));
    assert_eq!(
        s.call("GET", "/orders/total", Some(&alice), None, &[])
            .status,
        405
    );
    // 413.
    let big = format!(r#"{{"pad": "{}"}}"#, "x".repeat(70 * 1024));
    assert_eq!(
        s.call("POST", "/orders/total", Some(&alice), Some(&big), &[])
            .status,
        413
    );
    // 201, 200, 412 with ETag and Location.
    let r = s.call(
        "PUT",
        "/products/test-pizza",
        Some(&acme),
        Some(&product_body("9.99", 5)),
        &[],
    );
    assert_eq!(
        (r.status, r.header("etag"), r.header("location")),
        (201, "\"1\"", "/products/test-pizza")
    );
    let r = s.call(
        "PUT",
        "/products/test-pizza",
        Some(&acme),
        Some(&product_body("8.99", 5)),
        &[("if-match", "\"1\"")],
    );
    assert_eq!((r.status, r.header("etag")), (200, "\"2\""));
    let r = s.call(
        "PATCH",
        "/products/test-pizza",
        Some(&acme),
        Some(r#"{"stock": 1}"#),
        &[("if-match", "\"1\"")],
    );
    assert_eq!(r.status, 412);
    assert_eq!(
        s.call("GET", "/products/test-pizza", Some(&alice), None, &[])
            .json["stock"],
        5,
        "412 changed nothing"
    );
    // 422 and 400, 415.
    let r = s.call(
        "POST",
        "/orders/total",
        Some(&alice),
        Some(r#"{"items": [{"product_id": "test-pizza", "quantity": 6}]}"#),
        &[],
    );
    assert_eq!(
        (r.status, r.fields()),
        (422, vec!["items[0].quantity".to_owned()])
    );
    let r = s.call("POST", "/orders/total", Some(&alice), Some("{oops"), &[]);
    assert_eq!((r.status, r.fields()), (400, vec!["body".to_owned()]));
    let r = s.call(
        "POST",
        "/orders/total",
        Some(&alice),
        Some("{}"),
        &[("content-type", "text/plain")],
    );
    assert_eq!(r.status, 415);
    let r = s.call(
        "POST",
        "/orders/total",
        Some(&alice),
        Some(r#"{"items": [{"product_id": "test-pizza", "quantity": 2}]}"#),
        &[],
    );
    assert_eq!(
        (r.status, &r.json["total"]),
        (200, &json!({"amount": "17.98", "currency": "USD"}))
    );
}

#[test]
fn the_cached_policy_never_widens_a_token() {
    let s = Server::start();
    let alice = s.customer();
    assert_eq!(
        s.call("GET", "/products", Some(&alice), None, &[]).status,
        200
    );
    // Same token, now from the authorizer cache, on routes its scopes do not allow.
    assert_eq!(
        s.call(
            "PUT",
            "/products/x",
            Some(&alice),
            Some(&product_body("1.00", 1)),
            &[]
        )
        .status,
        403
    );
    assert_eq!(
        s.call("POST", "/simulations", Some(&alice), Some("{}"), &[])
            .status,
        403
    );
    assert_eq!(
        s.call("GET", "/products/pizza-funghi", Some(&alice), None, &[])
            .status,
        200
    );
}

#[test]
fn eight_concurrent_if_match_writers_exactly_one_wins() {
    let s = Server::start();
    let acme = s.company("acme");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (s, acme) = (&s, &acme);
                scope.spawn(move || {
                    s.call(
                        "PATCH",
                        "/products/calzone",
                        Some(acme),
                        Some(&format!(r#"{{"stock": {i}}}"#)),
                        &[("if-match", "\"1\"")],
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        7,
        "{statuses:?}"
    );
    let r = s.call("GET", "/products/calzone", Some(&acme), None, &[]);
    assert_eq!(r.header("etag"), "\"2\"");
}

#[test]
fn cors_on_success_on_errors_and_preflight() {
    let s = Server::start();
    let alice = s.customer();
    for r in [
        s.call("GET", "/products", Some(&alice), None, &[]),
        s.call("GET", "/products", None, None, &[]),
        s.call("GET", "/nowhere", Some(&alice), None, &[]),
        s.call("POST", "/orders/total", Some(&alice), Some("[]"), &[]),
        s.call("PUT", "/products/x", Some(&alice), Some("{}"), &[]),
    ] {
        assert_eq!(
            r.header("access-control-allow-origin"),
            ORIGIN,
            "status {}",
            r.status
        );
        assert!(r.header("access-control-expose-headers").contains("ETag"));
    }
    let r = s.call(
        "OPTIONS",
        "/products/x",
        None,
        None,
        &[("access-control-request-method", "PUT")],
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), ORIGIN);
    assert!(r.header("access-control-allow-methods").contains("PATCH"));
    for h in [
        "Authorization",
        "Content-Type",
        "If-Match",
        "Idempotency-Key",
    ] {
        assert!(r.header("access-control-allow-headers").contains(h), "{h}");
    }
}

#[test]
fn money_validation_names_the_field() {
    let s = Server::start();
    let acme = s.company("acme");
    let cases = [
        (
            json!({"amount": "12.500", "currency": "USD"}),
            "price.amount",
        ),
        (
            json!({"amount": "-5.00", "currency": "USD"}),
            "price.amount",
        ),
        (json!({"amount": "0.00", "currency": "USD"}), "price.amount"),
        (json!({"amount": 12.5, "currency": "USD"}), "price.amount"),
        (
            json!({"amount": "12.50", "currency": "DOGE"}),
            "price.currency",
        ),
        (
            json!({"amount": "92233720368547758.08", "currency": "USD"}),
            "price.amount",
        ),
    ];
    for (price, field) in cases {
        let body = json!({"name": "X", "price": price, "stock": 1}).to_string();
        let r = s.call("PUT", "/products/m", Some(&acme), Some(&body), &[]);
        assert_eq!(
            (r.status, r.fields()),
            (400, vec![field.to_owned()]),
            "{price}"
        );
    }
    assert_eq!(
        s.call("GET", "/products/m", Some(&acme), None, &[]).status,
        404,
        "nothing was written"
    );
}

#[test]
fn junk_never_gets_a_5xx() {
    let s = Server::start();
    let acme = s.company("acme");
    let ops = s.token_args(&[
        "--sub",
        "ops",
        "--scope",
        "products:read products:write orders:read orders:write",
        "--company",
        "acme",
    ]);
    let bodies = [
        "",
        " ",
        "null",
        "0",
        "\"\"",
        "[]",
        "{}",
        "{",
        "}",
        "[[[[",
        "\u{0}",
        "{\"name\": null}",
        "{\"price\": {}}",
        "{\"price\": []}",
        "{\"stock\": 1e309}",
        "{\"stock\": -0}",
        "{\"items\": null}",
        "{\"items\": [null]}",
        "{\"items\": [{\"product_id\": 1, \"quantity\": {}}]}",
        "{\"items\": \"pizza\"}",
        "{\"name\": \"\u{1}\"}",
        "{\"a\":1,\"a\":2}",
        "\u{feff}{}",
        "{\"name\": \"x\", \"price\": {\"amount\": \"1.00\", \"currency\": \"USD\", \"x\": 1}, \"stock\": 1}",
    ];
    let mut checked = 0;
    for body in bodies {
        for (method, path) in [
            ("PUT", "/products/junk"),
            ("PATCH", "/products/pizza-margherita"),
            ("POST", "/orders/total"),
        ] {
            let r = s.call(method, path, Some(&ops), Some(body), &[]);
            assert!(
                r.status < 500,
                "{method} {path} {body:?}: {} {}",
                r.status,
                r.json
            );
            assert_eq!(
                r.header("content-type"),
                "application/problem+json",
                "{method} {path} {body:?}"
            );
            checked += 1;
        }
    }
    for path in [
        "/products/%ZZ",
        "/products/%00",
        "/products/%FF%FE",
        &format!("/products/{}", "a".repeat(5000)),
        "/products?limit=%FF",
        "/products?cursor=%00",
        "/products?limit=1&limit=2",
        "/products?company_id=",
        "//products",
        "/products/a/b",
    ] {
        let r = s.call("GET", path, Some(&acme), None, &[]);
        assert!(r.status < 500, "GET {path}: {}", r.status);
        checked += 1;
    }
    for if_match in ["garbage", "\"\"", "W/\"1\"", "*", "\"1\", \"2\""] {
        let r = s.call(
            "PATCH",
            "/products/pizza-margherita",
            Some(&acme),
            Some(r#"{"stock": 1}"#),
            &[("if-match", if_match)],
        );
        assert!(
            (400..500).contains(&r.status),
            "If-Match {if_match}: {}",
            r.status
        );
        checked += 1;
    }
    assert_eq!(checked, bodies.len() * 3 + 15);
}

#[test]
fn kill_9_and_restart_lose_nothing_and_fresh_starts_empty() {
    let s = Server::start();
    let acme = s.company("acme");
    let r = s.call(
        "PUT",
        "/products/durable",
        Some(&acme),
        Some(&product_body("3.00", 7)),
        &[],
    );
    assert_eq!(r.status, 201);
    let r = s.call(
        "PATCH",
        "/products/durable",
        Some(&acme),
        Some(r#"{"stock": 6}"#),
        &[],
    );
    assert_eq!(r.status, 200);

    let dir = s.kill_9();
    let s = Server::start_in(dir, &[]);
    let r = s.call("GET", "/products/durable", Some(&acme), None, &[]);
    assert_eq!(
        (r.status, r.header("etag"), &r.json["stock"]),
        (200, "\"2\"", &json!(6)),
        "acknowledged writes survive kill -9"
    );
    // The key survived too: the token minted before the restart is still trusted.
    let dir = s.kill_9();
    let s = Server::start_in(dir, &["--fresh"]);
    assert_eq!(
        s.call("GET", "/products/durable", Some(&acme), None, &[])
            .status,
        404
    );
    let all = s.call("GET", "/products?limit=100", Some(&acme), None, &[]);
    assert_eq!(
        all.json["items"].as_array().unwrap().len(),
        12,
        "fresh start is re-seeded"
    );
}

#[test]
fn every_subcommand_explains_itself() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["token", "--help"],
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("--data-dir"), "{args:?}: {text}");
    }
    let out = Command::new(BIN)
        .args(["token", "--sub", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--scope"));
}

#[cfg(unix)]
#[test]
fn sigterm_shuts_down_gracefully() {
    let mut s = Server::start();
    assert_eq!(s.call("GET", "/_local/health", None, None, &[]).status, 200);
    let pid = s.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 30 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_web_page_and_its_demo_tokens() {
    let server = Server::start();
    let page = server.call("GET", "/", None, None, &[]);
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(
        page.header("content-security-policy")
            .contains("script-src 'self'")
    );
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert_eq!(server.call("GET", "/app.js", None, None, &[]).status, 200);
    let config = server.call("GET", "/config.json", None, None, &[]);
    assert_eq!(config.json["local"], true);
    // Only GET serves the page; other methods meet the API's routing.
    assert_eq!(server.call("POST", "/", None, Some("{}"), &[]).status, 404);

    let tokens = server.call("GET", "/_local/tokens", None, None, &[]);
    assert_eq!(tokens.status, 200);
    let principals = tokens.json.as_array().unwrap();
    let subs: Vec<&str> = principals
        .iter()
        .map(|p| p["sub"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["alice", "acme-admin", "globex-admin", "ops"]);
    // Each token is one the gateway trusts, with its principal's scopes.
    for principal in principals {
        let token = principal["token"].as_str().unwrap();
        let products = server.call("GET", "/products?limit=1", Some(token), None, &[]);
        assert_eq!(products.status, 200, "{principal}");
    }
    assert_eq!(
        server
            .call("POST", "/_local/tokens", None, Some("{}"), &[])
            .status,
        405
    );

    // A page elsewhere that rebinds its name to 127.0.0.1 gets no token.
    use std::io::{Read, Write};
    let address = server.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .write_all(
            b"GET /_local/tokens HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(!answer.contains("eyJ"), "{answer}");
}

/// Every `/_local` route: this machine by name only, no CORS grant, no cross-site POST.
#[test]
fn local_routes_are_for_this_machine_only() {
    use std::io::{Read, Write};
    let server = Server::start();
    let raw = |request: String| {
        let address = server.base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    for path in [
        "/_local/sms",
        "/_local/dlq",
        "/_local/stats",
        "/_local/orders",
    ] {
        let answer = raw(format!(
            "GET {path} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
        ));
        assert!(answer.starts_with("HTTP/1.1 403"), "{path}: {answer}");
        let local = server.call("GET", path, None, None, &[]);
        assert_eq!(local.status, 200, "{path}");
        assert_eq!(local.header("access-control-allow-origin"), "", "{path}");
    }
    let cross_site = server.call(
        "POST",
        "/_local/dlq/redrive",
        None,
        None,
        &[("origin", "https://evil.example")],
    );
    assert_eq!(cross_site.status, 403);
    assert_eq!(
        server
            .call("POST", "/_local/dlq/redrive", None, None, &[])
            .status,
        200,
        "from this machine"
    );
    let out = std::process::Command::new(crate::common::BIN)
        .args([
            "token",
            "--sub",
            "u",
            "--scope",
            "x",
            "--expires-in",
            "9223372036854775807",
        ])
        .arg("--data-dir")
        .arg(server.dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--expires-in"));
}
