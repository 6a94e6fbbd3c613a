//! The authorizer's cache, as API Gateway keeps it: one answer per token for the result TTL,
//! then evaluated against whatever route the next request with that token calls.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use authorizer::{Authorizer, AuthorizerResponse, authorize};
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;

/// API Gateway's default authorizer result TTL.
const POLICY_TTL: Duration = Duration::from_secs(300);
const POLICY_CACHE_MAX: usize = 10_000;

/// An authorizer answer and when it was given.
struct Cached {
    at: Instant,
    response: AuthorizerResponse,
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
            && now.duration_since(cached.at) < POLICY_TTL
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
                        at: now,
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
