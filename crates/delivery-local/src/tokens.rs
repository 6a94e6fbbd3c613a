//! Tokens signed with the data dir's key: the `token` subcommand and the banner's demo tokens.

use std::path::Path;

use serde::Serialize;
use token_signer::{Claims, SigningKey};

use crate::TokenArgs;

/// The issuer and audience the local authorizer is configured with (`JWT_ISSUER`,
/// `JWT_AUDIENCE`).
pub const ISSUER: &str = "delivery-local";
pub const AUDIENCE: &str = "delivery-api";
pub const KEY_FILE: &str = "signing-key.p8";

pub fn key(data_dir: &Path) -> Result<SigningKey, String> {
    SigningKey::load_or_create(&data_dir.join(KEY_FILE)).map_err(|e| e.to_string())
}

pub fn mint(
    key: &SigningKey,
    sub: &str,
    scope: &str,
    company: Option<&str>,
    expires_in: i64,
) -> Result<String, String> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        sub: sub.to_owned(),
        scope: scope.to_owned(),
        company_id: company.map(str::to_owned),
        iat: now,
        nbf: now.min(now + expires_in),
        exp: now + expires_in,
    };
    key.sign(&claims).map_err(|e| e.to_string())
}

pub fn print_token(args: &TokenArgs) -> Result<(), String> {
    domain::auth::Principal::from_claims(&args.sub, &args.scope, args.company.as_deref())
        .map_err(|e| e.to_string())?;
    let key = key(&args.data_dir)?;
    println!(
        "{}",
        mint(
            &key,
            &args.sub,
            &args.scope,
            args.company.as_deref(),
            args.expires_in
        )?
    );
    Ok(())
}

/// A demo principal of the banner and the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DemoPrincipal {
    pub sub: &'static str,
    /// Who it is, in words.
    pub who: &'static str,
    pub scope: &'static str,
    pub company_id: Option<&'static str>,
}

/// A demo principal with a fresh token.
#[derive(Clone, Debug, Serialize)]
pub struct DemoToken {
    #[serde(flatten)]
    pub principal: DemoPrincipal,
    pub token: String,
}

/// How long the demo principals' tokens (the banner's, the page's) stay valid.
const DEMO_TOKEN_SECONDS: i64 = 24 * 3600;

/// Each demo principal with a fresh token.
pub fn demo_tokens(key: &SigningKey) -> Result<Vec<DemoToken>, String> {
    DEMO_PRINCIPALS
        .into_iter()
        .map(|principal| {
            let p = principal;
            mint(key, p.sub, p.scope, p.company_id, DEMO_TOKEN_SECONDS)
                .map(|token| DemoToken { principal, token })
        })
        .collect()
}

/// The demo principals of the banner and the page.
pub const DEMO_PRINCIPALS: [DemoPrincipal; 4] = [
    DemoPrincipal {
        sub: "alice",
        who: "customer",
        scope: "products:read orders:read orders:write",
        company_id: None,
    },
    DemoPrincipal {
        sub: "acme-admin",
        who: "company user of acme",
        scope: "products:read products:write",
        company_id: Some("acme"),
    },
    DemoPrincipal {
        sub: "globex-admin",
        who: "company user of globex",
        scope: "products:read products:write",
        company_id: Some("globex"),
    },
    DemoPrincipal {
        sub: "ops",
        who: "operator, every scope",
        scope: "products:read products:write orders:read orders:write simulations:run",
        company_id: Some("acme"),
    },
];
