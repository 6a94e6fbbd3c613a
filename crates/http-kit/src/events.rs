//! Building API Gateway REST (v1) proxy events, the shape Lambda receives. The local gateway
//! builds its events here, and the handler tests use the same builder next to literal fixtures.

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyRequestContext};
use aws_lambda_events::query_map::QueryMap;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use lambda_http::Request;
use serde_json::Value;

/// What API Gateway knows of one request once it has routed and authorized it.
#[derive(Clone, Debug, Default)]
pub struct ProxyEvent {
    pub method: Method,
    /// The decoded request path, e.g. `/products/p1`.
    pub path: String,
    /// The matched resource, e.g. `/products/{id}`.
    pub resource: String,
    pub path_parameters: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// The authorizer's context (`sub`, `scope`, `company_id`, `principalId`).
    pub authorizer: HashMap<String, Value>,
    pub request_id: String,
    pub stage: String,
    /// What the client's URL has before the API's own paths: `/prod` on the execute-api
    /// endpoint (the stage), a custom domain's base path, or nothing (`delivery-local`).
    pub base_path: String,
}

impl ProxyEvent {
    /// The `aws_lambda_events` value, as API Gateway would send it.
    pub fn to_event(&self) -> ApiGatewayProxyRequest {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::from_str(value),
            ) {
                headers.append(n, v);
            }
        }
        let mut query: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in &self.query {
            query.entry(k.clone()).or_default().push(v.clone());
        }
        let mut ctx = ApiGatewayProxyRequestContext::default();
        ctx.request_id = Some(self.request_id.clone());
        ctx.stage = Some(self.stage.clone());
        ctx.resource_path = Some(self.resource.clone());
        ctx.path = Some(format!("{}{}", self.base_path, self.path));
        ctx.http_method = self.method.clone();
        ctx.authorizer.fields = self.authorizer.clone();
        let mut event = ApiGatewayProxyRequest::default();
        event.resource = Some(self.resource.clone());
        event.path = Some(self.path.clone());
        event.http_method = self.method.clone();
        event.multi_value_headers = headers.clone();
        event.headers = headers;
        event.query_string_parameters = QueryMap::from(query.clone());
        event.multi_value_query_string_parameters = QueryMap::from(query);
        event.path_parameters = self.path_parameters.iter().cloned().collect();
        event.request_context = ctx;
        event.body = self.body.clone();
        event
    }

    /// The `lambda_http::Request` a Lambda function receives for this event: serialised to the
    /// JSON Lambda delivers and parsed by `lambda_http` exactly as in AWS.
    pub fn to_request(&self) -> Result<Request, String> {
        let json = serde_json::to_string(&self.to_event())
            .map_err(|e| format!("serialising the event: {e}"))?;
        lambda_http::request::from_str(&json).map_err(|e| format!("parsing the event: {e}"))
    }
}

/// The `lambda_http::Request` of a proxy event Lambda delivered as plain JSON (a function with
/// more than one trigger receives it so).
pub fn request_from_json(event: &Value) -> Result<Request, String> {
    lambda_http::request::from_str(&event.to_string())
        .map_err(|e| format!("parsing the event: {e}"))
}

/// A response as the proxy integration's JSON answer, for a function that answers API Gateway
/// from a plain event handler.
pub fn proxy_response(response: lambda_http::Response<lambda_http::Body>) -> Value {
    let headers: serde_json::Map<String, Value> = response
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), Value::from(v)))
        })
        .collect();
    let body = match response.body() {
        lambda_http::Body::Text(t) => t.clone(),
        lambda_http::Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    serde_json::json!({
        "statusCode": response.status().as_u16(),
        "headers": headers,
        "body": body,
        "isBase64Encoded": false,
    })
}
