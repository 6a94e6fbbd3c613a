//! JWT verification against a JWKS.

use std::collections::HashMap;

use domain::auth::Principal;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use settings::{ConfigError, Source};

use crate::Unauthorized;

/// Clock leeway for `exp` and `nbf`, in seconds (SPEC §3: at most 60).
pub const LEEWAY_SECONDS: u64 = 30;

/// Verifies bearer tokens: the trusted keys by `kid`, each with its one algorithm.
pub struct Verifier {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    issuer: String,
    audience: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    company_id: Option<String>,
}

/// The algorithm a key is used with: the JWK's `alg` if given, else its type. Only RS256 and
/// ES256 are trusted; any other key (HMAC secrets included) is refused.
fn key_algorithm(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(by_type),
        Some(KeyAlgorithm::ES256) if by_type == Algorithm::ES256 => Some(by_type),
        Some(KeyAlgorithm::RS256) if by_type == Algorithm::RS256 => Some(by_type),
        Some(_) => None,
    }
}

impl Verifier {
    /// From `JWT_ISSUER`, `JWT_AUDIENCE`, and `JWKS` (the JSON key set) or else `JWKS_URL`
    /// (fetched now, once per cold start, and kept for the life of the instance).
    pub fn from_env(source: &dyn Source) -> Result<Verifier, ConfigError> {
        let issuer = settings::required(source, "JWT_ISSUER")?;
        let audience = settings::required(source, "JWT_AUDIENCE")?;
        let jwks = match (
            settings::optional(source, "JWKS"),
            settings::optional(source, "JWKS_URL"),
        ) {
            (Some(jwks), _) => jwks,
            (None, Some(url)) => crate::jwks_url::fetch(&url)?,
            (None, None) => return Err(ConfigError::Missing("JWKS")),
        };
        Verifier::new(&jwks, issuer, audience)
    }

    pub fn new(jwks: &str, issuer: String, audience: String) -> Result<Verifier, ConfigError> {
        let set: JwkSet = serde_json::from_str(jwks)
            .map_err(|e| ConfigError::malformed("JWKS", format!("not a JWK set: {e}")))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let kid = jwk
                .common
                .key_id
                .clone()
                .ok_or_else(|| ConfigError::malformed("JWKS", "every key needs a kid"))?;
            let algorithm = key_algorithm(jwk).ok_or_else(|| {
                ConfigError::malformed(
                    "JWKS",
                    format!("key {kid}: only RS256 and ES256 (P-256) keys are accepted"),
                )
            })?;
            let key = DecodingKey::from_jwk(jwk)
                .map_err(|e| ConfigError::malformed("JWKS", format!("key {kid}: {e}")))?;
            keys.insert(kid, (key, algorithm));
        }
        if keys.is_empty() {
            return Err(ConfigError::malformed("JWKS", "has no keys"));
        }
        Ok(Verifier {
            keys,
            issuer,
            audience,
        })
    }

    /// The principal of a valid token, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<Principal, Unauthorized> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Unauthorized::new(format!("malformed token: {e}")))?;
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| Unauthorized::new("token has no kid"))?;
        let (key, algorithm) = self
            .keys
            .get(kid)
            .ok_or_else(|| Unauthorized::new(format!("unknown kid {kid}")))?;
        // The algorithm is the key's: a token claiming any other (HS256, none, ...) is refused.
        if header.alg != *algorithm {
            return Err(Unauthorized::new(format!(
                "algorithm {:?} is not the key's",
                header.alg
            )));
        }
        let mut validation = Validation::new(*algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| Unauthorized::new(format!("invalid token: {e}")))?;
        let c = data.claims;
        Principal::from_claims(&c.sub, &c.scope, c.company_id.as_deref())
            .map_err(|e| Unauthorized::new(e.to_string()))
    }
}
