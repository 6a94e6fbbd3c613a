//! `pre-token` fed Cognito's own pre token generation events (versions 2 and 3).

use composition::lambda::EventFunction;
use pre_token::PreToken;
use serde_json::{Value, json};

fn user_event(attributes: Value) -> Value {
    user_event_with(
        attributes,
        &[],
        &[
            "openid",
            "delivery/products:read",
            "delivery/products:write",
        ],
    )
}

fn user_event_with(attributes: Value, groups: &[&str], scopes: &[&str]) -> Value {
    json!({
        "version": "2", "triggerSource": "TokenGeneration_Authentication", "region": "eu-west-1",
        "userPoolId": "eu-west-1_AbCdEf123", "userName": "acme-admin",
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "web-client"},
        "request": {"userAttributes": attributes, "groupConfiguration": {"groupsToOverride": groups, "iamRolesToOverride": [], "preferredRole": null},
                    "scopes": scopes},
        "response": {"claimsAndScopeOverrideDetails": null}
    })
}

fn integration_event(scopes: &[&str]) -> Value {
    json!({
        "version": "3", "triggerSource": "TokenGeneration_ClientCredentials", "region": "eu-west-1",
        "userPoolId": "eu-west-1_AbCdEf123", "userName": null,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "acme-integration"},
        "request": {"userAttributes": {}, "groupConfiguration": null, "scopes": scopes},
        "response": {"claimsAndScopeOverrideDetails": null}
    })
}

async fn details(event: Value) -> Value {
    PreToken.handle(event).await.unwrap()["response"]["claimsAndScopeOverrideDetails"].clone()
}

#[tokio::test]
async fn a_company_user_gets_its_company_in_both_tokens() {
    let out = details(user_event(
        json!({"sub": "6f1c", "custom:company_id": "acme"}),
    ))
    .await;
    assert_eq!(
        out["accessTokenGeneration"]["claimsToAddOrOverride"]["company_id"],
        "acme"
    );
    assert_eq!(
        out["idTokenGeneration"]["claimsToAddOrOverride"]["company_id"],
        "acme"
    );
    assert!(
        out["accessTokenGeneration"]
            .get("scopesToSuppress")
            .is_none(),
        "a company's user keeps products:write: {out}"
    );
}

const PAGE_SCOPES: &[&str] = &[
    "openid",
    "delivery/products:read",
    "delivery/products:write",
    "delivery/orders:write",
    "delivery/orders:read",
    "delivery/simulations:run",
];

#[tokio::test]
async fn a_customer_keeps_only_a_customers_scopes() {
    let out = details(user_event_with(json!({"sub": "6f1c"}), &[], PAGE_SCOPES)).await;
    assert_eq!(
        out["accessTokenGeneration"]["scopesToSuppress"],
        json!(["delivery/products:write", "delivery/simulations:run"])
    );
    assert!(
        out["accessTokenGeneration"]
            .get("claimsToAddOrOverride")
            .is_none()
    );
    assert!(out.get("idTokenGeneration").is_none());
}

#[tokio::test]
async fn an_operator_keeps_simulations_and_a_company_user_in_no_group_does_not() {
    let operator = user_event_with(json!({"sub": "ops"}), &["operators"], PAGE_SCOPES);
    let out = details(operator).await;
    assert_eq!(
        out["accessTokenGeneration"]["scopesToSuppress"],
        json!(["delivery/products:write"])
    );
    let company = user_event_with(
        json!({"custom:company_id": "acme"}),
        &["staff"],
        PAGE_SCOPES,
    );
    let out = details(company).await;
    assert_eq!(
        out["accessTokenGeneration"]["scopesToSuppress"],
        json!(["delivery/simulations:run"])
    );
    assert_eq!(
        out["accessTokenGeneration"]["claimsToAddOrOverride"]["company_id"],
        "acme"
    );
}

#[tokio::test]
async fn a_user_never_keeps_a_company_scope() {
    let scopes = ["delivery/products:read", "delivery/company:acme"];
    let event = user_event_with(json!({"custom:company_id": "acme"}), &[], &scopes);
    let out = details(event).await;
    assert_eq!(
        out["accessTokenGeneration"]["scopesToSuppress"],
        json!(["delivery/company:acme"])
    );
}

#[tokio::test]
async fn an_integration_gets_the_company_of_its_scope_which_is_suppressed() {
    let event = integration_event(&["delivery/products:write", "delivery/company:acme"]);
    let out = details(event).await;
    let access = &out["accessTokenGeneration"];
    assert_eq!(access["claimsToAddOrOverride"]["company_id"], "acme");
    assert_eq!(access["scopesToSuppress"], json!(["delivery/company:acme"]));
    assert!(
        out.get("idTokenGeneration").is_none(),
        "client credentials issue no ID token"
    );
}

#[tokio::test]
async fn no_company_or_a_doubtful_one_adds_nothing() {
    let customer_scopes = ["openid", "delivery/products:read", "delivery/orders:write"];
    for event in [
        user_event_with(json!({"sub": "6f1c"}), &[], &customer_scopes),
        user_event_with(json!({"custom:company_id": "ac me"}), &[], &customer_scopes),
        integration_event(&["delivery/products:read"]),
        integration_event(&["delivery/company:acme", "delivery/company:globex"]),
        integration_event(&["delivery/company:"]),
    ] {
        let answer = PreToken.handle(event.clone()).await.unwrap();
        assert_eq!(
            answer["response"]["claimsAndScopeOverrideDetails"],
            Value::Null,
            "{event}"
        );
        // The rest of the event comes back as it was.
        assert_eq!(answer["request"], event["request"]);
    }
}
