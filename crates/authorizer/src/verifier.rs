//! JWT verification against a JWKS, and key rotation: with `JWKS_URL`, a token whose
//! `kid` is not in the cached key set triggers one refetch (at most one a minute per instance),
//! and a set past its cache lifetime is fetched again in the background while the keys in hand
//! keep answering. A refresh that fails keeps the keys already known. A key the verifier
//! cannot use (no `kid`, meant for encryption, an algorithm it does not trust) is skipped with
//! a warning; a set with no usable key at all is an error, and the authorizer's own fault.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use domain::auth::Principal;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use settings::{ConfigError, Source};

use crate::Unauthorized;
use crate::jwks_url::JwksUrl;

/// Clock leeway for `exp` and `nbf`, in seconds (at most 60: a clock a little off is forgiven, a token long expired is not).
pub const LEEWAY_SECONDS: u64 = 30;

/// The trusted keys by `kid`, each with its one algorithm.
type Keys = HashMap<String, (DecodingKey, Algorithm)>;

/// When the key set of `JWKS_URL` is fetched again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refresh {
    /// At most one fetch in this long (an unknown `kid` cannot make a fetch per request).
    pub min_interval: Duration,
    /// The key set is fetched again once it is this old.
    pub lifetime: Duration,
}

/// One refetch a minute at most; keys kept for ten minutes.
pub const REFRESH: Refresh = Refresh {
    min_interval: Duration::from_secs(60),
    lifetime: Duration::from_secs(600),
};

/// Where the keys come from, and when they were last fetched.
struct Remote {
    url: JwksUrl,
    refresh: Refresh,
    /// When the keys in hand were fetched, and when a fetch was last tried.
    fetched_at: Mutex<(Instant, Instant)>,
    /// A background refresh is running: no second one is started.
    refreshing: AtomicBool,
}

/// Verifies bearer tokens against the trusted keys.
pub struct Verifier {
    /// Shared with a background refresh, which replaces them.
    keys: Arc<RwLock<Keys>>,
    remote: Option<Arc<Remote>>,
    issuer: String,
    /// The accepted audiences (`JWT_AUDIENCE`, comma-separated).
    audiences: Vec<String>,
    /// What the issuer puts before each scope (`JWT_SCOPE_PREFIX`): a Cognito resource server
    /// grants `delivery/products:read` for `products:read`.
    scope_prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    company_id: Option<String>,
    aud: Option<Audience>,
    /// Cognito's access tokens name their app client here, and carry no `aud`.
    client_id: Option<String>,
    /// Cognito's `access` or `id`: an ID token is no bearer token.
    token_use: Option<String>,
}

impl Claims {
    /// The token's audiences: its `aud`, or else its `client_id`.
    fn audiences(&self) -> Vec<&str> {
        match &self.aud {
            Some(Audience::One(one)) => vec![one.as_str()],
            Some(Audience::Many(many)) => many.iter().map(String::as_str).collect(),
            None => self.client_id.as_deref().into_iter().collect(),
        }
    }
}

/// The algorithm a key is used with: the JWK's `alg` if given, else its type. Only RS256 and
/// ES256 are trusted; any other key (HMAC secrets included) is refused.
fn key_algorithm(jwk: &Jwk) -> Result<Algorithm, String> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        _ => return Err("only RS256 and ES256 (P-256) keys are trusted".to_owned()),
    };
    match jwk.common.key_algorithm {
        None => Ok(by_type),
        Some(KeyAlgorithm::ES256) if by_type == Algorithm::ES256 => Ok(by_type),
        Some(KeyAlgorithm::RS256) if by_type == Algorithm::RS256 => Ok(by_type),
        Some(other) => Err(format!("its alg {other:?} is not trusted")),
    }
}

/// A key of the set as the verifier uses it, or why it cannot be used.
fn usable_key(value: &serde_json::Value) -> Result<(String, (DecodingKey, Algorithm)), String> {
    let jwk: Jwk = serde_json::from_value(value.clone()).map_err(|e| format!("not a JWK: {e}"))?;
    let kid = jwk.common.key_id.clone().ok_or("it has no kid")?;
    let named = |reason: String| format!("key {kid}: {reason}");
    // An identity provider publishes its encryption keys beside its signing keys (Keycloak
    // does by default, `use: "enc"`, often without `alg`): such a key verifies no signature.
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(other) => return Err(named(format!("its use is {other:?}, not signing"))),
    }
    let algorithm = key_algorithm(&jwk).map_err(named)?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| named(e.to_string()))?;
    Ok((kid, (key, algorithm)))
}

/// The usable keys of a JWK set, each unusable one skipped with a warning. A set that is no
/// JWK set, or has no usable key, is an error naming `JWKS`.
fn parse_keys(jwks: &str) -> Result<Keys, ConfigError> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = serde_json::from_str(jwks)
        .map_err(|e| ConfigError::malformed("JWKS", format!("not a JWK set: {e}")))?;
    let mut keys = HashMap::new();
    let mut skipped = Vec::new();
    for value in &set.keys {
        match usable_key(value) {
            Ok((kid, key)) => {
                keys.insert(kid, key);
            }
            Err(reason) => {
                tracing::warn!(%reason, "a key of the set is skipped");
                skipped.push(reason);
            }
        }
    }
    if keys.is_empty() {
        let why = match skipped.is_empty() {
            true => "has no keys".to_owned(),
            false => format!("has no usable key ({})", skipped.join("; ")),
        };
        return Err(ConfigError::malformed("JWKS", why));
    }
    Ok(keys)
}

impl Verifier {
    /// From `JWT_ISSUER`, `JWT_AUDIENCE` (one audience or several, comma-separated),
    /// `JWT_SCOPE_PREFIX` (optional), and `JWKS` (the JSON key set) or else `JWKS_URL`
    /// (fetched now, then again as [`REFRESH`] says).
    pub fn from_env(source: &dyn Source) -> Result<Verifier, ConfigError> {
        let issuer = settings::required(source, "JWT_ISSUER")?;
        let audiences = settings::list(source, "JWT_AUDIENCE")?;
        let scope_prefix = settings::optional(source, "JWT_SCOPE_PREFIX");
        let verifier = match (
            settings::optional(source, "JWKS"),
            settings::optional(source, "JWKS_URL"),
        ) {
            (Some(jwks), _) => Verifier::new(&jwks, issuer, audiences),
            (None, Some(url)) => {
                Verifier::from_url(JwksUrl::parse(&url)?, REFRESH, issuer, audiences)
            }
            (None, None) => Err(ConfigError::Missing("JWKS")),
        }?;
        Ok(verifier.with_scope_prefix(scope_prefix))
    }

    /// The same verifier, reading each scope after `prefix`; a scope without it grants
    /// nothing (as the page reads them too, `web/signin.js`).
    pub fn with_scope_prefix(mut self, prefix: Option<String>) -> Verifier {
        self.scope_prefix = prefix;
        self
    }

    /// Trusting a fixed key set, for tokens of `issuer` meant for one of `audiences`.
    pub fn new(
        jwks: &str,
        issuer: String,
        audiences: Vec<String>,
    ) -> Result<Verifier, ConfigError> {
        Ok(Verifier {
            keys: Arc::new(RwLock::new(parse_keys(jwks)?)),
            remote: None,
            issuer,
            audiences,
            scope_prefix: None,
        })
    }

    /// Trusting the key set at `url`, fetched now and then as `refresh` says.
    pub fn from_url(
        url: JwksUrl,
        refresh: Refresh,
        issuer: String,
        audiences: Vec<String>,
    ) -> Result<Verifier, ConfigError> {
        let keys = parse_keys(&url.fetch()?)?;
        let now = Instant::now();
        // The start's fetch does not count against the first unknown `kid`'s refetch.
        let tried = now.checked_sub(refresh.min_interval).unwrap_or(now);
        Ok(Verifier {
            keys: Arc::new(RwLock::new(keys)),
            remote: Some(Arc::new(Remote {
                url,
                refresh,
                fetched_at: Mutex::new((now, tried)),
                refreshing: AtomicBool::new(false),
            })),
            issuer,
            audiences,
            scope_prefix: None,
        })
    }

    /// The key and algorithm of `kid`. A set past its lifetime is fetched again in the
    /// background, the keys in hand answering meanwhile; only a `kid` they lack waits for a
    /// fetch (at most one per minimum interval).
    fn key(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        let known = || {
            self.keys
                .read()
                .ok()
                .and_then(|keys| keys.get(kid).cloned())
        };
        let Some(remote) = &self.remote else {
            return known();
        };
        match known() {
            Some(key) => {
                if remote.take_fetch(false) {
                    remote.clone().refresh_in_background(self.keys.clone());
                }
                Some(key)
            }
            None => {
                if remote.take_fetch(true) {
                    remote.fetch_into(&self.keys, true);
                }
                known()
            }
        }
    }
}

impl Remote {
    /// Whether to fetch now: the set is stale (or a token's `kid` is unknown), and no fetch
    /// was tried within the minimum interval. A fetch taken is counted as tried.
    fn take_fetch(&self, unknown_kid: bool) -> bool {
        let Ok(mut times) = self.fetched_at.lock() else {
            return false;
        };
        let (fetched, tried) = *times;
        let stale = fetched.elapsed() >= self.refresh.lifetime;
        if !(stale || unknown_kid) || tried.elapsed() < self.refresh.min_interval {
            return false;
        }
        times.1 = Instant::now();
        true
    }

    /// Refreshes the set on a thread of its own, unless a refresh is already running. (In
    /// Lambda the thread is frozen with the environment between invocations and goes on at the
    /// next one; its fetch is bounded by the URL's timeouts either way.)
    fn refresh_in_background(self: Arc<Remote>, keys: Arc<RwLock<Keys>>) {
        if self.refreshing.swap(true, Ordering::SeqCst) {
            return;
        }
        std::thread::spawn(move || {
            self.fetch_into(&keys, false);
            self.refreshing.store(false, Ordering::SeqCst);
        });
    }

    /// Fetches the set and puts its usable keys in hand. A failed fetch, or a set without a
    /// usable key, keeps the keys in hand and counts as the authorizer's own fault.
    fn fetch_into(&self, keys: &RwLock<Keys>, unknown_kid: bool) {
        match self.url.fetch().and_then(|jwks| parse_keys(&jwks)) {
            Ok(fresh) => {
                if let Ok(mut times) = self.fetched_at.lock() {
                    times.0 = Instant::now();
                }
                if let Ok(mut held) = keys.write() {
                    *held = fresh;
                }
                tracing::info!(url = self.url.as_str(), unknown_kid, "key set refreshed");
            }
            Err(e) => {
                // A fault of the authorizer's own (its alarm), unlike a refused token.
                telemetry::fault();
                tracing::warn!(error = %e, "key set refresh failed; keeping the keys in hand");
            }
        }
    }
}

impl Verifier {
    /// The principal of a valid token, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<Principal, Unauthorized> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Unauthorized::new(format!("malformed token: {e}")))?;
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| Unauthorized::new("token has no kid"))?;
        let (key, algorithm) = self
            .key(kid)
            .ok_or_else(|| Unauthorized::new(format!("unknown kid {kid}")))?;
        // The algorithm is the key's: a token claiming any other (HS256, none, ...) is refused.
        if header.alg != algorithm {
            return Err(Unauthorized::new(format!(
                "algorithm {:?} is not the key's",
                header.alg
            )));
        }
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.issuer]);
        // The audience is checked below: `aud`, or Cognito's `client_id` where there is none.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| Unauthorized::new(format!("invalid token: {e}")))?;
        let c = data.claims;
        if !c
            .audiences()
            .iter()
            .any(|a| self.audiences.iter().any(|ours| ours == a))
        {
            return Err(Unauthorized::new(
                "invalid token: not for this API (aud / client_id)",
            ));
        }
        if c.token_use.as_deref().is_some_and(|u| u != "access") {
            return Err(Unauthorized::new("an ID token is not a bearer token"));
        }
        let scope = self.scopes(&c.scope);
        Principal::from_claims(&c.sub, &scope, c.company_id.as_deref())
            .map_err(|e| Unauthorized::new(e.to_string()))
    }

    /// The token's scopes: with an issuer's prefix, those that carry it, read after it.
    fn scopes(&self, scope: &str) -> String {
        let Some(prefix) = &self.scope_prefix else {
            return scope.to_owned();
        };
        scope
            .split_whitespace()
            .filter_map(|s| s.strip_prefix(prefix.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}
