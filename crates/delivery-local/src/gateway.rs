//! The API Gateway emulator: REST API semantics in front of the same handlers Lambda runs.
//!
//! For each request: CORS preflight, the 64 KiB limit (413), routing from the shared route
//! table (404/405), the TOKEN authorizer fed the event API Gateway sends and its policy
//! enforced and cached per token the same way (401/403), the request validator of the API's
//! document (400), then the function's endpoint fed the
//! v1 proxy event built from the request. Gateway answers are problem+json with CORS headers,
//! as the deployed gateway responses are.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use api_contract::RequestValidator;
use authorizer::{AuthorizerResponse, policy_allows};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use composition::{Adapters, App, endpoint};
use domain::Error;
use domain::auth::{Function, Route, RouteMatch, resolve};
use http::{HeaderValue, Method, StatusCode, header};
use http_kit::events::ProxyEvent;
use http_kit::{Cors, Endpoint, MAX_BODY_BYTES, is_json, problem_response};
use lambda_http::{Body, Request};
use serde_json::Value;
use settings::ConfigError;

use crate::local_routes::LocalRoutes;
use crate::policies::PolicyCache;
use crate::site;
use crate::uploads::Uploads;

const STAGE: &str = "local";
/// A local route's body may be larger than an API request's: a rehearsal's verdict carries the
/// ids of up to 10,000 orders.
const LOCAL_BODY_BYTES: usize = 1024 * 1024;
const ARN_BASE: &str = "arn:aws:execute-api:local:000000000000:delivery-local/local";

/// Every HTTP function, behind its endpoint, built by the composition root.
pub struct Endpoints {
    list_products: Endpoint<list_products::ListProducts>,
    order_total: Endpoint<order_total::OrderTotal>,
    update_product: Endpoint<update_product::UpdateProduct>,
    start_import: Endpoint<start_import::StartImport>,
    place_order: Endpoint<place_order::PlaceOrder>,
    get_order: Endpoint<get_order::GetOrder>,
    simulator: Endpoint<order_simulator::Simulator>,
}

impl Endpoints {
    pub async fn new(adapters: &Adapters) -> Result<Endpoints, ConfigError> {
        Ok(Endpoints {
            list_products: endpoint(adapters).await?,
            order_total: endpoint(adapters).await?,
            update_product: endpoint(adapters).await?,
            start_import: endpoint(adapters).await?,
            place_order: endpoint(adapters).await?,
            get_order: endpoint(adapters).await?,
            simulator: endpoint(adapters).await?,
        })
    }

    /// One invocation of `function`: its DynamoDB calls are recorded under its name.
    async fn call(&self, function: Function, request: Request) -> lambda_http::Response<Body> {
        faults::calls::as_function(function.name(), self.invoke(function, request)).await
    }

    async fn invoke(&self, function: Function, request: Request) -> lambda_http::Response<Body> {
        match function {
            Function::ListProducts => self.list_products.call(request).await,
            Function::OrderTotal => self.order_total.call(request).await,
            Function::UpdateProduct => self.update_product.call(request).await,
            Function::StartImport => self.start_import.call(request).await,
            Function::PlaceOrder => self.place_order.call(request).await,
            Function::GetOrder => self.get_order.call(request).await,
            Function::OrderSimulator => self.simulator.call(request).await,
        }
    }
}

pub struct Gateway {
    pub authorizer: authorizer::Authorizer,
    pub cors: Cors,
    pub endpoints: Endpoints,
    pub local: LocalRoutes,
    /// The imports bucket's presigned uploads.
    pub uploads: Uploads,
    pub policies: PolicyCache,
    /// API Gateway's request validators, from the API's document.
    pub contract: RequestValidator,
}

impl Gateway {
    pub async fn new(
        adapters: &Adapters,
        local: LocalRoutes,
        uploads: Uploads,
    ) -> Result<Gateway, String> {
        let config = |e: ConfigError| e.to_string();
        Ok(Gateway {
            authorizer: authorizer::Authorizer::new(adapters)
                .await
                .map_err(config)?,
            cors: adapters.cors().map_err(config)?,
            endpoints: Endpoints::new(adapters).await.map_err(config)?,
            local,
            uploads,
            policies: PolicyCache::default(),
            contract: RequestValidator::new()?,
        })
    }
}

/// Who answered a request, which decides the CORS headers it gets.
enum Answer {
    /// A function: the proxy integration passes its response (and its CORS headers) through.
    Function(axum::response::Response),
    /// The gateway itself (refusals, the page): CORS added, as its gateway responses have.
    Gateway(axum::response::Response),
    /// A local-only route: no CORS grant, so no other site's page may read it.
    Local(axum::response::Response),
    /// A CORS preflight.
    Preflight,
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
    let (method, raw_path) = (parts.method.clone(), parts.uri.path().to_owned());
    let response = match answer(&gw, parts, body).await {
        Answer::Function(response) | Answer::Local(response) => response,
        Answer::Gateway(mut response) => {
            gw.cors.apply(origin.as_deref(), response.headers_mut());
            response
        }
        Answer::Preflight => {
            let mut response = empty(StatusCode::NO_CONTENT);
            gw.cors
                .apply_preflight(origin.as_deref(), response.headers_mut());
            response
        }
    };
    tracing::info!(%method, path = %raw_path, status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    response
}

/// The gateway's problem+json answer to a refused request.
pub fn gateway_error(error: &Error) -> axum::response::Response {
    let mut response = to_axum(problem_response(error));
    if matches!(error, Error::Unauthorized(_)) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

async fn answer(gw: &Gateway, parts: http::request::Parts, body: axum::body::Body) -> Answer {
    let Ok(path) = percent_encoding::percent_decode_str(parts.uri.path()).decode_utf8() else {
        return Answer::Gateway(gateway_error(&no_route()));
    };
    let path = path.into_owned();
    if let Some(key) = path.strip_prefix(files_embedded::UPLOAD_PATH) {
        return Answer::Local(gw.uploads.put(&parts, key, body).await);
    }
    if path.starts_with("/_local/") {
        return match read_body(&parts.headers, body, LOCAL_BODY_BYTES).await {
            Ok(bytes) => Answer::Local(gw.local.answer(&parts, &path, &bytes).await),
            Err(refusal) => Answer::Local(gateway_error(&refusal)),
        };
    }
    if matches!(parts.method, Method::GET | Method::HEAD)
        && let Some(page) = site::serve(&path)
    {
        return Answer::Gateway(page);
    }
    if parts.method == Method::OPTIONS {
        return Answer::Preflight;
    }
    match invoke(gw, &parts, path, body).await {
        Ok(response) => Answer::Function(response),
        Err(refusal) => Answer::Gateway(gateway_error(&refusal)),
    }
}

fn no_route() -> Error {
    Error::NotFound("No such route".to_owned())
}

/// What API Gateway does for an API route: body limit, routing, authorization, integration.
async fn invoke(
    gw: &Gateway,
    parts: &http::request::Parts,
    path: String,
    body: axum::body::Body,
) -> Result<axum::response::Response, Error> {
    let bytes = read_body(&parts.headers, body, MAX_BODY_BYTES).await?;
    let (route, params) = match resolve(parts.method.as_str(), &path) {
        RouteMatch::Found { route, params } => (route, params),
        RouteMatch::MethodNotAllowed { allowed } => {
            return Err(Error::MethodNotAllowed { allowed });
        }
        RouteMatch::NotFound => return Err(no_route()),
    };
    let method_arn = format!("{ARN_BASE}/{}{path}", parts.method);
    let auth = authorize(gw, &parts.headers, &method_arn)?;
    validate_body(&gw.contract, &parts.headers, route, &bytes)?;
    let event = proxy_event(parts, path, route, params, &bytes, &auth);
    let request = event
        .to_request()
        .map_err(|e| Error::validation("request", e))?;
    Ok(to_axum(gw.endpoints.call(route.function, request).await))
}

/// The body, at most `limit` bytes (413 otherwise, by the declared length or the bytes read).
async fn read_body(
    headers: &http::HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<Bytes, Error> {
    let too_large = Error::PayloadTooLarge { limit };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large);
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large)
}

/// The authorizer's answer for the request's token (401), and its policy enforced (403).
fn authorize(
    gw: &Gateway,
    headers: &http::HeaderMap,
    method_arn: &str,
) -> Result<AuthorizerResponse, Error> {
    // API Gateway's token source validation: anything but `Bearer <token>` is a 401 before the
    // authorizer runs.
    let Some(authorization) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| authorizer::token_source_matches(v))
    else {
        return Err(Error::Unauthorized(
            "An Authorization: Bearer token is required".to_owned(),
        ));
    };
    let auth = gw
        .policies
        .authorize(&gw.authorizer, authorization, method_arn)
        .ok_or_else(|| {
            Error::Unauthorized(
                "The token is missing, malformed, badly signed or expired".to_owned(),
            )
        })?;
    if !policy_allows(&auth.policy_document, method_arn) {
        return Err(Error::Forbidden(
            "The token's scopes do not allow this route".to_owned(),
        ));
    }
    Ok(auth)
}

/// API Gateway's request validator, after the authorizer: a JSON body must fit the operation's
/// model, or the request is a 400 naming each field and no function runs. A body of another
/// content type has no model to meet; the function answers it 415.
fn validate_body(
    contract: &RequestValidator,
    headers: &http::HeaderMap,
    route: &Route,
    body: &[u8],
) -> Result<(), Error> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json);
    if !json || !contract.has_body(route.method, route.resource) {
        return Ok(());
    }
    if body.is_empty() {
        return Err(Error::validation("body", "is required"));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Error::validation("body", format!("is not valid JSON: {e}")))?;
    let errors = contract.body_errors(route.method, route.resource, &value);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

/// The v1 proxy event API Gateway sends the integration.
fn proxy_event(
    parts: &http::request::Parts,
    path: String,
    route: &Route,
    params: Vec<(&'static str, String)>,
    body: &[u8],
    auth: &AuthorizerResponse,
) -> ProxyEvent {
    ProxyEvent {
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
        body: (!body.is_empty()).then(|| String::from_utf8_lossy(body).into_owned()),
        authorizer: context(auth),
        request_id: uuid::Uuid::new_v4().to_string(),
        stage: STAGE.to_owned(),
        // Locally the API is served at the root: no stage in its URLs.
        base_path: String::new(),
    }
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

fn empty(status: StatusCode) -> axum::response::Response {
    let mut response = axum::response::Response::new(axum::body::Body::empty());
    *response.status_mut() = status;
    response
}

/// A Lambda HTTP response as the gateway sends it on.
pub fn to_axum(response: lambda_http::Response<Body>) -> axum::response::Response {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(s) => Bytes::from(s),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}
