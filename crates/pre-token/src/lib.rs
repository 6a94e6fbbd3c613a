//! `pre-token`: Amazon Cognito's pre token generation trigger (event versions 2 and 3), so that a
//! company's user or integration carries `company_id` in its access token, as the authorizer
//! requires for `products:write`.
//!
//! - A user (sign-in, refresh): the company is the user's `custom:company_id` attribute, which
//!   only an administrator sets (the attribute is not writable by the app clients).
//! - An integration (client credentials, version 3): the company is named by the one
//!   `…company:<id>` scope of the resource server its app client alone is allowed; that scope is
//!   then suppressed from the token, which keeps only the API's five scopes.
//!
//! - A user keeps only the scopes meant for it: `products:write` with a company,
//!   `simulations:run` in the `operators` group, never a company scope. Anyone who can sign in
//!   to the page asks for the page's scopes; this is what keeps them a customer's.
//!
//! A company id that is not one (`[A-Za-z0-9_-]`, 1–64) is not added: the token then grants no
//! company's writes. The event comes back with its `response` set, as Cognito expects.

use std::convert::Infallible;

use composition::lambda::EventFunction;
use composition::{Adapters, App};
use domain::CompanyId;
use serde_json::{Value, json};
use settings::ConfigError;

/// The part of a per-company scope that names the company: `delivery/company:acme`.
const COMPANY_SCOPE: &str = "company:";

pub struct PreToken;

impl App for PreToken {
    const NAME: &'static str = "pre-token";

    async fn new(_: &Adapters) -> Result<PreToken, ConfigError> {
        Ok(PreToken)
    }
}

/// Who a token is for, as far as its company goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Company {
    /// A user's attribute.
    User(CompanyId),
    /// An integration's company scope (to suppress).
    Integration(CompanyId, String),
    None,
}

/// The company an event's token is for.
pub fn company_of(event: &Value) -> Company {
    let request = &event["request"];
    if is_integration(event) {
        let scopes = request["scopes"].as_array().into_iter().flatten();
        let named: Vec<(&str, &str)> = scopes
            .filter_map(|s| s.as_str())
            .filter_map(|s| Some((s, s.rsplit('/').next()?.strip_prefix(COMPANY_SCOPE)?)))
            .collect();
        return match named.as_slice() {
            [(scope, id)] => CompanyId::parse(id)
                .map(|c| Company::Integration(c, (*scope).to_owned()))
                .unwrap_or(Company::None),
            // No company scope, or several: no company.
            _ => Company::None,
        };
    }
    request["userAttributes"]["custom:company_id"]
        .as_str()
        .and_then(|id| CompanyId::parse(id).ok())
        .map_or(Company::None, Company::User)
}

/// The group whose users are operators: only they keep `simulations:run`.
pub const OPERATORS: &str = "operators";

/// Whether a user keeps a scope its app client let it ask for. Anyone may sign in to the page,
/// so a scope beyond a customer's is kept only for whom it is meant: `products:write` for a
/// company's user, `simulations:run` for an operator; a company scope (an integration's) never.
fn user_may(scope: &str, company: bool, operator: bool) -> bool {
    match scope.rsplit('/').next().unwrap_or(scope) {
        "products:write" => company,
        "simulations:run" => operator,
        name => !name.starts_with(COMPANY_SCOPE),
    }
}

/// A user's customisation: the company in both tokens, and the scopes it may not keep.
fn user_details(event: &Value, company: Option<CompanyId>) -> Value {
    let request = &event["request"];
    let operator = request["groupConfiguration"]["groupsToOverride"]
        .as_array()
        .is_some_and(|groups| groups.iter().any(|g| g == OPERATORS));
    let suppressed: Vec<&str> = request["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|s| !user_may(s, company.is_some(), operator))
        .collect();
    let mut details = json!({});
    if let Some(company) = &company {
        let claims = json!({"claimsToAddOrOverride": {"company_id": company.as_str()}});
        details["accessTokenGeneration"] = claims.clone();
        details["idTokenGeneration"] = claims;
    }
    if !suppressed.is_empty() {
        details["accessTokenGeneration"]["scopesToSuppress"] = json!(suppressed);
    }
    if details == json!({}) {
        Value::Null
    } else {
        details
    }
}

/// The event with Cognito's `response`: the claim to add, and the scopes to suppress.
pub fn respond(mut event: Value) -> Value {
    let details = match company_of(&event) {
        Company::Integration(company, scope) => json!({
            "accessTokenGeneration": {
                "claimsToAddOrOverride": {"company_id": company.as_str()},
                "scopesToSuppress": [scope],
            },
        }),
        Company::None if is_integration(&event) => Value::Null,
        Company::User(company) => user_details(&event, Some(company)),
        Company::None => user_details(&event, None),
    };
    if !event["response"].is_object() {
        event["response"] = json!({});
    }
    event["response"]["claimsAndScopeOverrideDetails"] = details;
    event
}

fn is_integration(event: &Value) -> bool {
    event["triggerSource"] == "TokenGeneration_ClientCredentials"
}

impl EventFunction for PreToken {
    type Event = Value;
    type Output = Value;
    type Error = Infallible;

    async fn handle(&self, event: Value) -> Result<Value, Infallible> {
        let source = event["triggerSource"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let answer = respond(event);
        let company = &answer["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]
            ["claimsToAddOrOverride"]["company_id"];
        tracing::info!(trigger = %source, company = %company, "token customised");
        Ok(answer)
    }
}
