//! The authorizer fed real TOKEN authorizer events (the JSON API Gateway sends), refusing each
//! known attack and accepting a good token with the right policy and context.

use authorizer::{
    Authorizer, MAX_TOKEN_BYTES, MethodArn, Unauthorized, Verifier, authorize, policy_allows,
};
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use composition::lambda::EventFunction;
use serde_json::{Value, json};
use token_signer::{Claims, SigningKey};

const ISS: &str = "https://issuer.example";
const AUD: &str = "delivery-api";
const ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/products/p1";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims() -> Claims {
    Claims {
        iss: ISS.into(),
        aud: AUD.into(),
        sub: "alice".into(),
        scope: "products:read orders:write".into(),
        company_id: None,
        iat: now(),
        nbf: now(),
        exp: now() + 300,
    }
}

fn setup() -> (SigningKey, Verifier) {
    let key = SigningKey::generate().unwrap();
    let verifier = Verifier::new(&key.jwks(), ISS.into(), vec![AUD.into()]).unwrap();
    (key, verifier)
}

/// The event exactly as API Gateway sends it to a TOKEN authorizer.
fn event(authorization: &str) -> ApiGatewayCustomAuthorizerRequest {
    serde_json::from_value(json!({
        "type": "TOKEN",
        "authorizationToken": authorization,
        "methodArn": ARN
    }))
    .unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn refused(verifier: &Verifier, authorization: &str) -> String {
    let err = authorize(verifier, &event(authorization)).expect_err("must be refused");
    assert_eq!(
        err.to_string(),
        "Unauthorized",
        "API Gateway needs exactly this message"
    );
    err.reason
}

#[test]
fn a_good_token_gets_its_routes_and_context() {
    let (key, verifier) = setup();
    let token = key.sign(&claims()).unwrap();
    let response = authorize(&verifier, &event(&format!("Bearer {token}"))).unwrap();
    assert_eq!(response.principal_id.as_deref(), Some("alice"));
    assert_eq!(response.context.sub, "alice");
    assert_eq!(response.context.scope, "products:read orders:write");
    assert_eq!(response.context.company_id, "");
    let base = MethodArn::parse(ARN).unwrap().base;
    let policy = &response.policy_document;
    assert!(policy_allows(policy, &format!("{base}/GET/products")));
    assert!(policy_allows(policy, &format!("{base}/POST/orders")));
    assert!(!policy_allows(policy, &format!("{base}/GET/orders")));
    assert!(!policy_allows(policy, &format!("{base}/PUT/products/p1")));
    // The response serialises to what API Gateway expects.
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(json["context"]["sub"], "alice");
}

#[test]
fn company_users_carry_their_company() {
    let (key, verifier) = setup();
    let token = key
        .sign(&Claims {
            company_id: Some("acme".into()),
            scope: "products:write".into(),
            ..claims()
        })
        .unwrap();
    let response = authorize(&verifier, &event(&format!("Bearer {token}"))).unwrap();
    assert_eq!(response.context.company_id, "acme");
    // API Gateway's token source is case-sensitive: any other spelling never reaches a verifier.
    for scheme in ["bearer", "BEARER", "Bearer  "] {
        assert_eq!(
            refused(&verifier, &format!("{scheme} {token}")),
            "no bearer token"
        );
    }
}

#[test]
fn alg_none_is_refused() {
    let (key, verifier) = setup();
    let header = json!({"alg": "none", "typ": "JWT", "kid": key.kid()});
    let token = format!(
        "{}.{}.",
        b64(&header),
        b64(&serde_json::to_value(claims()).unwrap())
    );
    refused(&verifier, &format!("Bearer {token}"));
}

#[test]
fn hs256_signed_with_the_public_key_is_refused() {
    let (key, verifier) = setup();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(key.kid().to_owned());
    // The classic confusion attack: the public key (as published) used as the HMAC secret.
    let secret = jsonwebtoken::EncodingKey::from_secret(key.jwks().as_bytes());
    let token = jsonwebtoken::encode(&header, &claims(), &secret).unwrap();
    let reason = refused(&verifier, &format!("Bearer {token}"));
    assert!(reason.contains("algorithm"), "{reason}");
}

#[test]
fn wrong_issuer_audience_and_times_are_refused() {
    let (key, verifier) = setup();
    let cases = [
        Claims {
            iss: "https://evil.example".into(),
            ..claims()
        },
        Claims {
            aud: "another-api".into(),
            ..claims()
        },
        Claims {
            exp: now() - 120,
            ..claims()
        },
        Claims {
            nbf: now() + 600,
            ..claims()
        },
        Claims {
            sub: String::new(),
            ..claims()
        },
    ];
    for c in cases {
        let token = key.sign(&c).unwrap();
        refused(&verifier, &format!("Bearer {token}"));
    }
    // Missing exp: a token without expiry is never accepted.
    let mut no_exp = serde_json::to_value(claims()).unwrap();
    no_exp.as_object_mut().unwrap().remove("exp");
    let token = key.sign(&no_exp).unwrap();
    refused(&verifier, &format!("Bearer {token}"));
}

#[test]
fn small_clock_skew_is_tolerated() {
    let (key, verifier) = setup();
    let token = key
        .sign(&Claims {
            exp: now() - 10,
            ..claims()
        })
        .unwrap();
    assert!(authorize(&verifier, &event(&format!("Bearer {token}"))).is_ok());
}

#[test]
fn unknown_kid_and_foreign_keys_are_refused() {
    let (_, verifier) = setup();
    let other = SigningKey::generate().unwrap();
    let token = other.sign(&claims()).unwrap();
    let reason = refused(&verifier, &format!("Bearer {token}"));
    assert!(reason.contains("unknown kid"), "{reason}");
}

#[test]
fn tampered_payload_is_refused() {
    let (key, verifier) = setup();
    let token = key.sign(&claims()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let escalated = Claims {
        scope: "products:write simulations:run".into(),
        ..claims()
    };
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_value(escalated).unwrap()),
        parts[2]
    );
    refused(&verifier, &format!("Bearer {forged}"));
}

#[test]
fn garbage_and_oversized_tokens_are_refused() {
    let (_, verifier) = setup();
    for junk in [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer a.b.c",
        "Bearer ....",
        "Bearer \u{0}\u{1}",
        "token-without-scheme",
    ] {
        refused(&verifier, junk);
    }
    let huge = format!("Bearer {}", "a".repeat(authorizer::MAX_TOKEN_BYTES));
    assert_eq!(refused(&verifier, &huge), "token too large");
}

#[test]
fn jwks_config_errors_name_the_setting() {
    for bad in [
        "",
        "{}",
        r#"{"keys": []}"#,
        r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}"#,
    ] {
        let err = Verifier::new(bad, ISS.into(), vec![AUD.into()])
            .err()
            .expect("refused");
        assert!(err.to_string().contains("JWKS"), "{bad}: {err}");
    }
    let err = Verifier::from_env(&[("JWT_ISSUER", ISS)]).err().unwrap();
    assert!(err.to_string().contains("JWT_AUDIENCE"));
}

/// Keys an identity provider may publish beside its signing key, none usable for verifying an
/// ES256 or RS256 token: each is skipped, never a reason to refuse the whole set.
fn unusable_keys() -> Vec<Value> {
    let n = URL_SAFE_NO_PAD.encode([0xc3u8; 256]);
    vec![
        // No kid: no token can name it.
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "n": n, "e": "AQAB"}),
        // Keycloak's default encryption key: `use: "enc"`, with and without `alg`.
        json!({"kty": "RSA", "use": "enc", "kid": "enc-1", "n": n, "e": "AQAB"}),
        json!({"kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "kid": "enc-2", "n": n, "e": "AQAB"}),
        // Algorithms the verifier does not trust.
        json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "ed", "x": URL_SAFE_NO_PAD.encode([7u8; 32])}),
        json!({"kty": "EC", "crv": "P-384", "alg": "ES384", "kid": "p384",
               "x": URL_SAFE_NO_PAD.encode([1u8; 48]), "y": URL_SAFE_NO_PAD.encode([2u8; 48])}),
        json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
        // A key type from after this code was written.
        json!({"kty": "AKP", "alg": "ML-DSA-44", "kid": "pq", "pub": "AAAA"}),
        // Not a key at all.
        json!({"kty": 7, "kid": "broken"}),
        json!("a string"),
    ]
}

#[test]
fn a_key_set_with_unusable_keys_works_with_its_usable_ones() {
    let key = SigningKey::generate().unwrap();
    let mut set: Value = serde_json::from_str(&key.jwks()).unwrap();
    let keys = set["keys"].as_array_mut().unwrap();
    for (i, unusable) in unusable_keys().into_iter().enumerate() {
        keys.insert(i % (keys.len() + 1), unusable);
    }
    let verifier = Verifier::new(&set.to_string(), ISS.into(), vec![AUD.into()]).unwrap();
    let token = key.sign(&claims()).unwrap();
    let allowed = authorize(&verifier, &event(&format!("Bearer {token}"))).unwrap();
    assert_eq!(allowed.principal_id.as_deref(), Some("alice"));
    // A token naming a skipped key is refused as unknown: the key was never trusted.
    let header = b64(&json!({"alg": "RS256", "typ": "JWT", "kid": "enc-1"}));
    let body = b64(&serde_json::to_value(claims()).unwrap());
    let forged = format!(
        "Bearer {header}.{body}.{}",
        URL_SAFE_NO_PAD.encode([0u8; 256])
    );
    assert_eq!(refused(&verifier, &forged), "unknown kid enc-1");
}

#[test]
fn a_key_set_without_a_usable_key_is_refused_naming_each_reason() {
    let set = json!({"keys": unusable_keys()}).to_string();
    let err = Verifier::new(&set, ISS.into(), vec![AUD.into()])
        .err()
        .expect("refused")
        .to_string();
    for reason in [
        "JWKS",
        "no usable key",
        "no kid",
        "key enc-1: its use is Encryption",
        "key enc-2: its use is Encryption",
        "key ed:",
        "key p384:",
        "key hmac:",
        "key pq:",
        "key broken:",
        "not a JWK",
    ] {
        assert!(err.contains(reason), "{reason} missing from: {err}");
    }
}

/// An access token as Amazon Cognito issues it: no `aud` but the app client's `client_id`,
/// `token_use`, and the resource server's scopes (`delivery/products:read`).
fn cognito(client_id: &str, token_use: &str) -> Value {
    json!({
        "iss": ISS, "sub": "6f1c2d3e-0000-4000-8000-000000000001", "client_id": client_id, "token_use": token_use,
        "scope": "delivery/products:write delivery/products:read openid", "company_id": "acme",
        "iat": now(), "exp": now() + 300,
    })
}

#[test]
fn cognito_access_tokens_are_read_by_their_client_and_scope_prefix() {
    let key = SigningKey::generate().unwrap();
    let verifier = Verifier::new(
        &key.jwks(),
        ISS.into(),
        vec!["web-client".into(), "acme-integration".into()],
    )
    .unwrap()
    .with_scope_prefix(Some("delivery/".into()));
    let token = key.sign(&cognito("acme-integration", "access")).unwrap();
    let response = authorize(&verifier, &event(&format!("Bearer {token}"))).unwrap();
    assert_eq!(response.context.scope, "products:read products:write");
    assert_eq!(response.context.company_id, "acme");
    // Another pool client, an ID token, and a token with no audience at all are refused.
    for claims in [
        cognito("someone-else", "access"),
        cognito("web-client", "id"),
        json!({"iss": ISS, "sub": "x", "scope": "delivery/products:read", "exp": now() + 300}),
    ] {
        let token = key.sign(&claims).unwrap();
        refused(&verifier, &format!("Bearer {token}"));
    }
    // Without the prefix, a prefixed scope grants nothing: every route is denied (403).
    let plain = Verifier::new(&key.jwks(), ISS.into(), vec!["acme-integration".into()]).unwrap();
    let token = key.sign(&cognito("acme-integration", "access")).unwrap();
    let response = authorize(&plain, &event(&format!("Bearer {token}"))).unwrap();
    assert_eq!(response.context.scope, "");
    let base = MethodArn::parse(ARN).unwrap().base;
    assert!(!policy_allows(
        &response.policy_document,
        &format!("{base}/GET/products")
    ));
}

#[test]
fn a_header_is_refused_as_too_large_only_past_8_kib() {
    let (_, verifier) = setup();
    let header = |len: usize| format!("Bearer {}", "a".repeat(len - "Bearer ".len()));
    assert_eq!(MAX_TOKEN_BYTES, 8192);
    assert_eq!(refused(&verifier, &header(8193)), "token too large");
    // At the limit, the token is read (and refused for what it is).
    assert_ne!(refused(&verifier, &header(8192)), "token too large");
    assert_ne!(refused(&verifier, &header(2000)), "token too large");
}

/// The function as the Lambda runner calls it: a refusal is `Unauthorized` (API Gateway's
/// 401), and never counted as the authorizer's own fault.
#[tokio::test]
async fn the_function_answers_a_policy_or_unauthorized_and_a_refusal_is_no_fault() {
    let (key, verifier) = setup();
    let function = Authorizer { verifier };
    let token = key.sign(&claims()).unwrap();
    let allowed = function
        .handle(event(&format!("Bearer {token}")))
        .await
        .unwrap();
    assert_eq!(allowed.principal_id.as_deref(), Some("alice"));
    let refusal = function.handle(event("Bearer nope")).await.unwrap_err();
    assert_eq!(refusal.to_string(), "Unauthorized");
    assert!(!Authorizer::is_fault(&refusal));
    assert!(!Authorizer::is_fault(&Unauthorized::new("anything")));
    let diagnostic = Authorizer::diagnostic(&refusal);
    assert_eq!(
        (
            diagnostic.error_type.as_str(),
            diagnostic.error_message.as_str()
        ),
        ("Unauthorized", "Unauthorized")
    );
}

/// A key's algorithm is its type's (RS256 for RSA, ES256 for P-256), and an `alg` it names
/// must be that one.
#[test]
fn a_key_is_used_with_its_own_types_algorithm_only() {
    let n = URL_SAFE_NO_PAD.encode([0xc3u8; 256]);
    let (x, y) = (
        URL_SAFE_NO_PAD.encode([1u8; 48]),
        URL_SAFE_NO_PAD.encode([2u8; 48]),
    );
    let key = SigningKey::generate().unwrap();
    let p256: Value = serde_json::from_str::<Value>(&key.jwks()).unwrap()["keys"][0].clone();
    let usable = |jwk: Value| {
        Verifier::new(
            &json!({"keys": [jwk]}).to_string(),
            ISS.into(),
            vec![AUD.into()],
        )
    };
    for rsa in [
        json!({"kty": "RSA", "kid": "rsa-bare", "n": n, "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "rsa-rs256", "alg": "RS256", "n": n, "e": "AQAB"}),
    ] {
        assert!(usable(rsa.clone()).is_ok(), "{rsa}");
    }
    let mut p256_bare = p256.clone();
    p256_bare.as_object_mut().unwrap().remove("alg");
    assert!(usable(p256_bare).is_ok());
    let mut ec_rs256 = p256.clone();
    ec_rs256["alg"] = json!("RS256");
    ec_rs256["kid"] = json!("ec-rs256");
    for (jwk, reason) in [
        (
            json!({"kty": "EC", "crv": "P-384", "kid": "p384-bare", "x": x, "y": y}),
            "key p384-bare: only RS256 and ES256 (P-256) keys are trusted",
        ),
        (
            json!({"kty": "RSA", "kid": "rsa-es256", "alg": "ES256", "n": n, "e": "AQAB"}),
            "key rsa-es256: its alg ES256 is not trusted",
        ),
        (ec_rs256, "key ec-rs256: its alg RS256 is not trusted"),
    ] {
        let err = usable(jwk).err().expect("refused").to_string();
        assert!(err.contains(reason), "{reason} missing from: {err}");
    }
}
