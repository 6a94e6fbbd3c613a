//! `JWKS_URL`: the key set fetched once per cold start. HTTPS only (plain HTTP is allowed for
//! loopback addresses, for tests and local identity providers); bounded time and retries, so a
//! broken setting fails the start with a message naming it instead of hanging.

use std::sync::Arc;
use std::time::Duration;

use settings::ConfigError;
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};

const ATTEMPTS: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BYTES: u64 = 256 * 1024;

fn is_loopback_http(url: &str) -> bool {
    [
        "http://127.0.0.1:",
        "http://127.0.0.1/",
        "http://localhost:",
        "http://localhost/",
        "http://[::1]:",
    ]
    .iter()
    .any(|p| url.starts_with(p))
}

pub fn fetch(url: &str) -> Result<String, ConfigError> {
    let bad = |problem: String| ConfigError::malformed("JWKS_URL", problem);
    if !url.starts_with("https://") && !is_loopback_http(url) {
        return Err(bad(format!("{url} must be an https:// URL")));
    }
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::WebPki)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(TIMEOUT))
        .build()
        .into();
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(200 << attempt));
        }
        match agent.get(url).call() {
            Ok(mut response) => {
                return response
                    .body_mut()
                    .with_config()
                    .limit(MAX_BYTES)
                    .read_to_string()
                    .map_err(|e| bad(format!("reading {url}: {e}")));
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(bad(format!(
        "fetching {url} failed {ATTEMPTS} times: {last}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn fetches_from_a_url_once() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 2048];
            let _ = conn.read(&mut buf);
            let body = r#"{"keys": []}"#;
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(reply.as_bytes()).unwrap();
        });
        assert_eq!(
            fetch(&format!("http://127.0.0.1:{port}/jwks.json")).unwrap(),
            r#"{"keys": []}"#
        );
        server.join().unwrap();
    }

    #[test]
    fn refuses_plain_http_and_names_the_setting_on_failure() {
        let err = fetch("http://issuer.example/jwks.json").unwrap_err();
        assert!(err.to_string().contains("JWKS_URL"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = fetch(&format!("http://127.0.0.1:{port}/")).unwrap_err();
        assert!(err.to_string().contains("failed 3 times"), "{err}");
    }
}
