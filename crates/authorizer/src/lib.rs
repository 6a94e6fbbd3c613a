//! The API Gateway TOKEN authorizer (ARCHITECTURE.md, "Identity and authorization").
//!
//! It verifies the bearer JWT against keys from `JWKS` (RS256 or ES256; the algorithm is the
//! key's, never the token's), checks `iss`, `aud`, `exp` and `nbf` with 30 s leeway, and
//! returns an IAM policy that allows **every route the token's scopes allow** and nothing
//! else, because API Gateway caches the policy per token and reuses it for other routes. The
//! principal (`sub`, `scope`, `company_id`) goes to the handlers as authorizer context.
//! Any bad token is the error `Unauthorized`, which API Gateway answers with 401.

mod jwks_url;
mod policy;
mod verifier;

pub use jwks_url::{FETCH_BUDGET, JwksUrl};
pub use policy::{MethodArn, policy_allows, policy_for};
pub use verifier::{LEEWAY_SECONDS, REFRESH, Refresh, Verifier};

/// API Gateway's token source validation (the authorizer's `identityValidationExpression` in
/// `terraform/modules/rest-api/openapi`; the wiring check keeps the two equal): a header that
/// does not match is refused with 401 before the authorizer is invoked. `Bearer` exactly, as
/// the regular expression is case-sensitive.
pub const TOKEN_SOURCE_PATTERN: &str = "^Bearer [-0-9A-Za-z._~+/]+=*$";

/// Whether `header` matches [`TOKEN_SOURCE_PATTERN`].
pub fn token_source_matches(header: &str) -> bool {
    let Some(token) = header.strip_prefix("Bearer ") else {
        return false;
    };
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerResponse,
};
use composition::lambda::EventFunction;
use composition::{Adapters, App};
use serde::{Deserialize, Serialize};
use settings::ConfigError;

/// The error API Gateway turns into 401: its message must be exactly `Unauthorized`. The
/// reason is for logs only.
#[derive(Debug, thiserror::Error)]
#[error("Unauthorized")]
pub struct Unauthorized {
    pub reason: String,
}

impl Unauthorized {
    pub fn new(reason: impl Into<String>) -> Unauthorized {
        Unauthorized {
            reason: reason.into(),
        }
    }
}

/// The function: the verifier of `JWT_ISSUER`, `JWT_AUDIENCE` and `JWKS` or `JWKS_URL`.
pub struct Authorizer {
    pub verifier: Verifier,
}

impl App for Authorizer {
    const NAME: &'static str = "authorizer";

    async fn new(adapters: &Adapters) -> Result<Authorizer, ConfigError> {
        Ok(Authorizer {
            verifier: Verifier::from_env(adapters.settings())?,
        })
    }
}

impl EventFunction for Authorizer {
    type Event = ApiGatewayCustomAuthorizerRequest;
    type Output = AuthorizerResponse;
    type Error = Unauthorized;

    async fn handle(
        &self,
        event: ApiGatewayCustomAuthorizerRequest,
    ) -> Result<AuthorizerResponse, Unauthorized> {
        let result = authorize(&self.verifier, &event);
        if let Err(e) = &result {
            tracing::info!(reason = %e.reason, "token refused");
        }
        result
    }

    /// A refused token is the authorizer doing its job; its own faults (a key set it cannot
    /// fetch) are counted where they happen.
    fn is_fault(_: &Unauthorized) -> bool {
        false
    }

    /// API Gateway answers 401 only to exactly this error.
    fn diagnostic(_: &Unauthorized) -> lambda_runtime::Diagnostic {
        lambda_runtime::Diagnostic {
            error_type: "Unauthorized".to_owned(),
            error_message: "Unauthorized".to_owned(),
        }
    }
}

/// The authorizer context handed to the handlers (values must be strings for API Gateway).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthContext {
    pub sub: String,
    pub scope: String,
    /// Empty when the principal is not a company user.
    pub company_id: String,
}

pub type AuthorizerResponse = ApiGatewayCustomAuthorizerResponse<AuthContext>;

/// Longest `Authorization` value considered; longer is refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The handler: a TOKEN authorizer event in, a policy and context out.
pub fn authorize(
    verifier: &Verifier,
    event: &ApiGatewayCustomAuthorizerRequest,
) -> Result<AuthorizerResponse, Unauthorized> {
    let header = event.authorization_token.as_deref().unwrap_or_default();
    if header.len() > MAX_TOKEN_BYTES {
        return Err(Unauthorized::new("token too large"));
    }
    // API Gateway refuses any other header before it invokes the authorizer.
    if !token_source_matches(header) {
        return Err(Unauthorized::new("no bearer token"));
    }
    let token = &header["Bearer ".len()..];
    let arn = event
        .method_arn
        .as_deref()
        .and_then(MethodArn::parse)
        .ok_or_else(|| Unauthorized::new("malformed methodArn"))?;
    let principal = verifier.verify(token)?;
    let mut response = AuthorizerResponse::default();
    response.principal_id = Some(principal.sub.to_string());
    response.policy_document = policy_for(&principal, &arn);
    response.context = AuthContext {
        sub: principal.sub.to_string(),
        scope: principal.scope_claim(),
        company_id: principal
            .company_id
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default(),
    };
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_source_is_bearer_exactly() {
        assert!(token_source_matches("Bearer abc.DEF-_~+/.x=="));
        for refused in [
            "bearer abc",
            "BEARER abc",
            "Bearer",
            "Bearer ",
            "Bearer ==",
            "Bearer  abc",
            "Bearer abc def",
            "Bearer abc=x",
            "Basic abc",
            " Bearer abc",
        ] {
            assert!(!token_source_matches(refused), "{refused:?}");
        }
    }

    /// The pattern this crate applies is the one API Gateway is given.
    #[test]
    fn the_token_source_is_api_gateways() {
        let openapi = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../terraform/modules/rest-api/openapi/main.tf"),
        )
        .unwrap();
        assert!(
            openapi.contains(&format!(
                "identityValidationExpression = \"{TOKEN_SOURCE_PATTERN}\""
            )),
            "terraform/modules/rest-api/openapi/main.tf must give API Gateway {TOKEN_SOURCE_PATTERN}"
        );
    }
}
