//! `JWKS_URL`: where the key set is fetched from (key rotation). HTTPS only, redirects
//! included (plain HTTP is allowed for a loopback host, for tests and local identity providers,
//! and then never redirected); every fetch within a time budget, so that a slow or hanging
//! issuer costs a bounded share of the authorizer's timeout instead of all of it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use settings::ConfigError;
use ureq::http::Uri;
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};

/// The most a fetch may take, attempts and waits included: well inside the authorizer's 5 s.
pub const FETCH_BUDGET: Duration = Duration::from_millis(2500);
const ATTEMPTS: u32 = 2;
const MAX_BYTES: u64 = 256 * 1024;

/// A checked `JWKS_URL`.
#[derive(Clone, Debug)]
pub struct JwksUrl {
    url: String,
    /// Plain HTTP to a loopback host.
    loopback_http: bool,
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1")
}

impl JwksUrl {
    /// Parses the URL: `https://…`, or `http://` to a loopback host (the host as the URL
    /// really names it: `http://127.0.0.1:1@elsewhere/` is `elsewhere`, and refused).
    pub fn parse(url: &str) -> Result<JwksUrl, ConfigError> {
        let bad = |problem: String| ConfigError::malformed("JWKS_URL", problem);
        let uri: Uri = url
            .parse()
            .map_err(|e| bad(format!("{url} is not a URL: {e}")))?;
        let authority = uri
            .authority()
            .ok_or_else(|| bad(format!("{url} has no host")))?;
        if authority.as_str().contains('@') {
            return Err(bad(format!("{url} must not carry credentials")));
        }
        let loopback_http = match uri.scheme_str() {
            Some("https") => false,
            Some("http") if is_loopback(authority.host()) => true,
            _ => return Err(bad(format!("{url} must be an https:// URL"))),
        };
        Ok(JwksUrl {
            url: url.to_owned(),
            loopback_http,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    fn agent(&self, timeout: Duration) -> ureq::Agent {
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(RootCerts::WebPki)
            .unversioned_rustls_crypto_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .build();
        ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(timeout))
            // Over https, redirects stay https; plain loopback http is never redirected.
            .https_only(!self.loopback_http)
            .max_redirects(if self.loopback_http { 0 } else { 3 })
            .build()
            .into()
    }

    /// The key set's JSON, within [`FETCH_BUDGET`].
    pub fn fetch(&self) -> Result<String, ConfigError> {
        let bad = |problem: String| ConfigError::malformed("JWKS_URL", problem);
        let deadline = Instant::now() + FETCH_BUDGET;
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            let left = deadline.saturating_duration_since(Instant::now());
            if left < Duration::from_millis(100) {
                break;
            }
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(100));
            }
            match self.agent(left).get(&self.url).call() {
                Ok(mut response) => {
                    return response
                        .body_mut()
                        .with_config()
                        .limit(MAX_BYTES)
                        .read_to_string()
                        .map_err(|e| bad(format!("reading {}: {e}", self.url)));
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(bad(format!(
            "fetching {} failed within {} ms: {last}",
            self.url,
            FETCH_BUDGET.as_millis()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_as_the_url_really_names_it() {
        for good in [
            "https://issuer.example/.well-known/jwks.json",
            "http://127.0.0.1:8080/jwks.json",
            "http://localhost/jwks",
            "http://[::1]:9/jwks",
        ] {
            assert_eq!(JwksUrl::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "http://issuer.example/jwks.json",
            "http://127.0.0.1:1@elsewhere/",
            "http://127.0.0.1.elsewhere.example/",
            "https://user:pass@issuer.example/",
            "ftp://issuer.example/",
            "not a url",
            "/jwks.json",
        ] {
            let err = JwksUrl::parse(bad).unwrap_err();
            assert!(err.to_string().contains("JWKS_URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_dead_issuer_is_an_error_naming_the_setting() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = JwksUrl::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let err = url.fetch().unwrap_err().to_string();
        assert!(
            err.contains("JWKS_URL") && err.contains("failed within"),
            "{err}"
        );
    }
}
