//! The authorizer's cache, as API Gateway keeps it: one answer per token for the result TTL,
//! then evaluated against whatever route the next request with that token calls. Never past
//! the token's own `exp` plus the verifier's leeway: an expired token is refused whether or
//! not its answer was cached (Terraform keeps API Gateway's TTL within that leeway too).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use authorizer::{Authorizer, AuthorizerResponse, authorize};
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;

/// The authorizer result TTL, as Terraform sets API Gateway's (`authorizer_cache_ttl_seconds`):
/// no longer than the verifier's leeway, so that no answer outlives its token by more.
const POLICY_TTL: Duration = Duration::from_secs(authorizer::LEEWAY_SECONDS);
const POLICY_CACHE_MAX: usize = 10_000;

/// An authorizer answer and until when it may be used.
struct Cached {
    until: Instant,
    response: AuthorizerResponse,
}

/// The token's `exp` (seconds since the epoch), read from a token the verifier just accepted.
fn expiry(authorization: &str) -> Option<i64> {
    use base64::Engine as _;
    let payload = authorization.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_i64()
}

/// How long an answer for this token may be cached: the TTL, and never past `exp` + leeway.
fn cacheable_for(authorization: &str, now_s: i64) -> Duration {
    let Some(exp) = expiry(authorization) else {
        return Duration::ZERO;
    };
    let left = exp + authorizer::LEEWAY_SECONDS as i64 - now_s;
    POLICY_TTL.min(Duration::from_secs(left.max(0) as u64))
}

#[derive(Default)]
pub struct PolicyCache {
    by_token: Mutex<HashMap<String, Cached>>,
}

impl PolicyCache {
    /// The authorizer's answer for a token, from the cache while fresh; `None` if refused.
    pub fn authorize(
        &self,
        authorizer: &Authorizer,
        authorization: &str,
        method_arn: &str,
    ) -> Option<AuthorizerResponse> {
        let now = Instant::now();
        if let Ok(cache) = self.by_token.lock()
            && let Some(cached) = cache.get(authorization)
            && now < cached.until
        {
            return Some(cached.response.clone());
        }
        let mut event = ApiGatewayCustomAuthorizerRequest::default();
        event.type_ = Some("TOKEN".to_owned());
        event.authorization_token = Some(authorization.to_owned());
        event.method_arn = Some(method_arn.to_owned());
        match authorize(&authorizer.verifier, &event) {
            Ok(response) => {
                if let Ok(mut cache) = self.by_token.lock() {
                    if cache.len() >= POLICY_CACHE_MAX {
                        cache.clear();
                    }
                    let cached = Cached {
                        until: now + cacheable_for(authorization, chrono::Utc::now().timestamp()),
                        response: response.clone(),
                    };
                    cache.insert(authorization.to_owned(), cached);
                }
                Some(response)
            }
            Err(e) => {
                tracing::info!(reason = %e.reason, "authorizer refused the token");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn token(exp: i64) -> String {
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!(r#"{{"sub":"alice","exp":{exp}}}"#));
        format!("Bearer eyJhbGciOiJSUzI1NiJ9.{claims}.c2ln")
    }

    #[test]
    fn an_answer_is_never_cached_past_its_tokens_expiry_and_leeway() {
        let now = 1_800_000_000;
        assert_eq!(cacheable_for(&token(now + 3600), now), POLICY_TTL);
        // Expired 5 s ago: within the leeway for 25 s more, and cached no longer.
        assert_eq!(cacheable_for(&token(now - 5), now), Duration::from_secs(25));
        assert_eq!(
            cacheable_for(&token(now - 10), now),
            Duration::from_secs(20)
        );
        assert_eq!(cacheable_for(&token(now - 60), now), Duration::ZERO);
        assert_eq!(cacheable_for("Bearer not-a-jwt", now), Duration::ZERO);
        assert!(POLICY_TTL <= Duration::from_secs(authorizer::LEEWAY_SECONDS));
    }
}
