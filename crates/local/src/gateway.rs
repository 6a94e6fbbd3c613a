//! The API Gateway emulator: REST API semantics in front of the same handlers Lambda runs.
//!
//! For each request: CORS preflight, the 64 KiB limit (413), routing from the shared route
//! table (404/405), the TOKEN authorizer fed the event API Gateway sends and its policy
//! enforced and cached per token the same way (401/403), then the function's handler fed the
//! v1 proxy event built from the request. Gateway answers are problem+json with CORS headers,
//! as the deployed gateway responses are.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use authorizer::{AuthorizerResponse, Verifier, authorize, policy_allows};
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use bus_embedded::{Bus, EmbeddedQueue, NOTIFICATIONS, ORDERS};
use config::Source;
use domain::Error;
use domain::auth::{Function, RouteMatch, resolve};
use get_order::GetOrder;
use http::{HeaderValue, Method, StatusCode, header};
use http_kit::events::ProxyEvent;
use http_kit::{Cors, MAX_BODY_BYTES, problem_response};
use lambda_http::Body;
use list_products::ListProducts;
use order_simulator::Simulator;
use order_total::OrderTotal;
use place_order::PlaceOrder;
use serde_json::Value;
use std::sync::Arc;
use store_dynamodb::DynamoStore;
use update_product::UpdateProduct;

use crate::site;
use crate::tokens;
use crate::workers::Counters;

/// API Gateway's default authorizer result TTL.
const POLICY_TTL: Duration = Duration::from_secs(300);
const POLICY_CACHE_MAX: usize = 10_000;
const STAGE: &str = "local";
const ARN_BASE: &str = "arn:aws:execute-api:local:000000000000:delivery-local/local";

pub struct Gateway {
    verifier: Verifier,
    cors: Cors,
    list_products: ListProducts,
    order_total: OrderTotal,
    update_product: UpdateProduct,
    place_order: PlaceOrder,
    get_order: GetOrder,
    simulator: Simulator,
    bus: Bus,
    counters: Arc<Counters>,
    /// Signs the demo principals' tokens the page offers (`GET /_local/tokens`).
    key: Arc<token_signer::SigningKey>,
    policies: Mutex<HashMap<String, (Instant, AuthorizerResponse)>>,
}

impl Gateway {
    pub fn new(
        settings: &impl Source,
        store: DynamoStore,
        bus: Bus,
        counters: Arc<Counters>,
        key: Arc<token_signer::SigningKey>,
    ) -> Result<Gateway, config::ConfigError> {
        let cors = Cors::from_env(settings)?;
        let store = Arc::new(store);
        Ok(Gateway {
            verifier: Verifier::from_env(settings)?,
            list_products: ListProducts {
                catalog: store.clone(),
                cors: cors.clone(),
            },
            order_total: OrderTotal {
                catalog: store.clone(),
                cors: cors.clone(),
            },
            update_product: UpdateProduct {
                catalog: store.clone(),
                cors: cors.clone(),
            },
            place_order: PlaceOrder {
                catalog: store.clone(),
                queue: Arc::new(EmbeddedQueue {
                    bus: bus.clone(),
                    queue: ORDERS.name,
                }),
                cors: cors.clone(),
            },
            simulator: Simulator {
                catalog: store.clone(),
                queue: Arc::new(EmbeddedQueue {
                    bus: bus.clone(),
                    queue: ORDERS.name,
                }),
                cors: cors.clone(),
            },
            get_order: GetOrder {
                orders: store,
                cors: cors.clone(),
            },
            bus,
            counters,
            key,
            cors,
            policies: Mutex::new(HashMap::new()),
        })
    }

    /// The authorizer's answer for a token, from the cache while fresh (as API Gateway does:
    /// the cached policy is then evaluated against a different route).
    fn policy(&self, authorization: &str, method_arn: &str) -> Option<AuthorizerResponse> {
        let now = Instant::now();
        if let Ok(cache) = self.policies.lock()
            && let Some((at, response)) = cache.get(authorization)
            && now.duration_since(*at) < POLICY_TTL
        {
            return Some(response.clone());
        }
        let mut event = ApiGatewayCustomAuthorizerRequest::default();
        event.type_ = Some("TOKEN".to_owned());
        event.authorization_token = Some(authorization.to_owned());
        event.method_arn = Some(method_arn.to_owned());
        match authorize(&self.verifier, &event) {
            Ok(response) => {
                if let Ok(mut cache) = self.policies.lock() {
                    if cache.len() >= POLICY_CACHE_MAX {
                        cache.clear();
                    }
                    cache.insert(authorization.to_owned(), (now, response.clone()));
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

pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new().fallback(handle).with_state(gateway)
}

async fn handle(
    State(gw): State<Arc<Gateway>>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = parts.method.clone();
    let raw_path = parts.uri.path().to_owned();
    let (mut response, from_gateway) = route(&gw, parts, body).await;
    // A function's response already carries its CORS headers (the proxy integration passes
    // them through); the gateway adds them to its own answers, as its gateway responses do.
    if method == Method::OPTIONS {
        gw.cors
            .apply_preflight(origin.as_deref(), response.headers_mut());
    } else if from_gateway {
        gw.cors.apply(origin.as_deref(), response.headers_mut());
    }
    tracing::info!(%method, path = %raw_path, status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    response
}

fn gateway_error(error: &Error) -> axum::response::Response {
    let mut response = to_axum(problem_response(error));
    if matches!(error, Error::Unauthorized(_)) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// The response, and whether the gateway itself answered (rather than a function).
async fn route(
    gw: &Gateway,
    parts: http::request::Parts,
    body: axum::body::Body,
) -> (axum::response::Response, bool) {
    match invoke(gw, parts, body).await {
        Ok(response) => (response, false),
        Err(response) => (response, true),
    }
}

/// The function's response, or the gateway's own answer as the error.
async fn invoke(
    gw: &Gateway,
    parts: http::request::Parts,
    body: axum::body::Body,
) -> Result<axum::response::Response, axum::response::Response> {
    let not_found = || gateway_error(&Error::NotFound("No such route".to_owned()));
    let Ok(path) = percent_encoding::percent_decode_str(parts.uri.path()).decode_utf8() else {
        return Err(not_found());
    };
    let path = path.into_owned();
    if path.starts_with("/_local/") {
        return Err(local_route(gw, &parts, &path));
    }
    if matches!(parts.method, Method::GET | Method::HEAD)
        && let Some(page) = site::serve(&path)
    {
        return Err(page);
    }
    if parts.method == Method::OPTIONS {
        return Err(axum::response::Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(axum::body::Body::empty())
            .unwrap_or_default());
    }
    let too_large = || {
        gateway_error(&Error::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        })
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return Err(too_large());
    };
    let (route, params) = match resolve(parts.method.as_str(), &path) {
        RouteMatch::Found { route, params } => (route, params),
        RouteMatch::MethodNotAllowed { allowed } => {
            return Err(gateway_error(&Error::MethodNotAllowed { allowed }));
        }
        RouteMatch::NotFound => return Err(not_found()),
    };
    let Some(authorization) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(gateway_error(&Error::Unauthorized(
            "An Authorization: Bearer token is required".to_owned(),
        )));
    };
    let method_arn = format!("{ARN_BASE}/{}{path}", parts.method);
    let Some(auth) = gw.policy(authorization, &method_arn) else {
        return Err(gateway_error(&Error::Unauthorized(
            "The token is missing, malformed, badly signed or expired".to_owned(),
        )));
    };
    if !policy_allows(&auth.policy_document, &method_arn) {
        return Err(gateway_error(&Error::Forbidden(
            "The token's scopes do not allow this route".to_owned(),
        )));
    }
    let event = ProxyEvent {
        method: parts.method.clone(),
        path,
        resource: route.resource.to_owned(),
        path_parameters: params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        query: parts
            .uri
            .query()
            .and_then(|q| serde_urlencoded::from_str(q).ok())
            .unwrap_or_default(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_owned(), v.to_owned()))
            })
            .collect(),
        body: (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned()),
        authorizer: context(&auth),
        request_id: uuid::Uuid::new_v4().to_string(),
        stage: STAGE.to_owned(),
    };
    let request = match event.to_request() {
        Ok(r) => r,
        Err(e) => {
            return Err(gateway_error(&Error::Validation(vec![
                domain::validation::FieldError::new("request", e),
            ])));
        }
    };
    let response = match route.function {
        Function::ListProducts => list_products::handler(&gw.list_products, request).await,
        Function::OrderTotal => order_total::handler(&gw.order_total, request).await,
        Function::UpdateProduct => update_product::handler(&gw.update_product, request).await,
        Function::PlaceOrder => place_order::handler(&gw.place_order, request).await,
        Function::GetOrder => get_order::handler(&gw.get_order, request).await,
        Function::OrderSimulator => order_simulator::handler(&gw.simulator, request).await,
    };
    Ok(to_axum(response))
}

/// The authorizer context as API Gateway hands it to the integration.
fn context(auth: &AuthorizerResponse) -> HashMap<String, Value> {
    let mut fields: HashMap<String, Value> = match serde_json::to_value(&auth.context) {
        Ok(Value::Object(map)) => map.into_iter().collect(),
        _ => HashMap::new(),
    };
    fields.insert(
        "principalId".to_owned(),
        Value::from(auth.principal_id.clone().unwrap_or_default()),
    );
    fields
}

/// Local-only, unauthenticated routes (the server listens on loopback only).
fn local_route(gw: &Gateway, parts: &http::request::Parts, path: &str) -> axum::response::Response {
    let result = match (&parts.method, path) {
        (&Method::GET, "/_local/health") => Ok(serde_json::json!({"status": "ok"})),
        (&Method::GET, "/_local/sms") => gw.bus.sms().map(|sms| serde_json::json!(sms)),
        (&Method::GET, "/_local/dlq") => gw.bus.dead_letters().map(|dead| serde_json::json!(dead)),
        (&Method::POST, "/_local/dlq/redrive") => {
            gw.bus.redrive().map(|n| serde_json::json!({"redriven": n}))
        }
        (&Method::GET, "/_local/stats") => stats(gw),
        (&Method::GET, "/_local/tokens") => return demo_tokens(gw, parts),
        (
            _,
            "/_local/health" | "/_local/sms" | "/_local/dlq" | "/_local/stats" | "/_local/tokens",
        ) => {
            return gateway_error(&Error::MethodNotAllowed {
                allowed: vec!["GET"],
            });
        }
        (_, "/_local/dlq/redrive") => {
            return gateway_error(&Error::MethodNotAllowed {
                allowed: vec!["POST"],
            });
        }
        _ => return gateway_error(&Error::NotFound("No such local route".to_owned())),
    };
    match result {
        Ok(value) => json(StatusCode::OK, &value),
        Err(e) => gateway_error(&Error::from(e)),
    }
}

/// The demo principals with fresh tokens, for the page's one-click sign-in. Only for a request
/// addressed to this machine by name (`Host: 127.0.0.1:…` or `localhost:…`): a page elsewhere
/// that rebinds its DNS name to 127.0.0.1 gets nothing.
fn demo_tokens(gw: &Gateway, parts: &http::request::Parts) -> axum::response::Response {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let loopback = ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|name| host == *name || host.starts_with(&format!("{name}:")));
    if !loopback {
        return gateway_error(&Error::Forbidden(
            "Demo tokens are only for http://127.0.0.1 or http://localhost".to_owned(),
        ));
    }
    match tokens::demo_tokens(&gw.key) {
        Ok(tokens) => {
            let principals: Vec<Value> = tokens
                .into_iter()
                .map(|((sub, who, scope, company), token)| {
                    serde_json::json!({
                        "sub": sub, "who": who, "scope": scope, "company_id": company, "token": token,
                    })
                })
                .collect();
            json(StatusCode::OK, &Value::from(principals))
        }
        Err(e) => gateway_error(&Error::Internal(e)),
    }
}

fn stats(gw: &Gateway) -> Result<Value, domain::PortError> {
    use std::sync::atomic::Ordering::Relaxed;
    // Counted in SQL: `simulate` polls this while the tables grow.
    let (orders, notifications) = (
        gw.bus.counts(ORDERS.name)?,
        gw.bus.counts(NOTIFICATIONS.name)?,
    );
    Ok(serde_json::json!({
        "orders_queue": orders,
        "notifications_queue": notifications,
        "dead_letters": orders.dead + notifications.dead,
        "sms_sent": gw.bus.sms_count()?,
        "events": {"accepted": gw.counters.accepted.load(Relaxed), "rejected": gw.counters.rejected.load(Relaxed)},
    }))
}

fn json(status: StatusCode, value: &Value) -> axum::response::Response {
    axum::response::Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(value.to_string()))
        .unwrap_or_default()
}

/// A Lambda HTTP response as the gateway sends it on.
fn to_axum(response: lambda_http::Response<Body>) -> axum::response::Response {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(s) => Bytes::from(s),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}
