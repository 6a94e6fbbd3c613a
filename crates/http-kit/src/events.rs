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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::principal;
    use lambda_http::RequestExt;
    use serde_json::json;

    /// An API Gateway REST proxy event in the shape AWS documents ("Input format of a Lambda
    /// function for proxy integration"), with a TOKEN authorizer's context: what Lambda hands
    /// a function in AWS.
    const DOCUMENTED: &str = include_str!("../../../fixtures/events/apigw-rest-get-product.json");

    /// The same request as the local gateway builds it.
    fn built() -> ProxyEvent {
        ProxyEvent {
            method: Method::GET,
            path: "/products/pizza".into(),
            resource: "/products/{id}".into(),
            path_parameters: vec![("id".into(), "pizza".into())],
            headers: vec![
                ("Accept".into(), "application/json".into()),
                ("Origin".into(), "https://shop.example.com".into()),
            ],
            authorizer: HashMap::from([
                ("principalId".to_owned(), json!("alice")),
                ("sub".to_owned(), json!("alice")),
                (
                    "scope".to_owned(),
                    json!("products:read orders:write orders:read"),
                ),
                ("company_id".to_owned(), json!("")),
            ]),
            request_id: "77375676-xmpl-4b79-853a-f982474efe18".into(),
            stage: "prod".into(),
            base_path: "/prod".into(),
            ..ProxyEvent::default()
        }
    }

    #[test]
    fn the_built_event_has_the_documented_shape_and_values() {
        let documented: Value = serde_json::from_str(DOCUMENTED).unwrap();
        let ours = serde_json::to_value(built().to_event()).unwrap();
        // Every field the builder writes is one AWS sends, at the same place, and the fields a
        // handler reads hold what AWS would put there.
        for pointer in [
            "/resource",
            "/path",
            "/httpMethod",
            "/pathParameters",
            "/requestContext/resourcePath",
            "/requestContext/httpMethod",
            "/requestContext/path",
            "/requestContext/stage",
            "/requestContext/requestId",
            "/requestContext/authorizer/sub",
            "/requestContext/authorizer/scope",
            "/requestContext/authorizer/principalId",
        ] {
            assert_eq!(
                ours.pointer(pointer),
                documented.pointer(pointer),
                "{pointer}"
            );
        }
        // Header names: AWS passes the client's spelling, the builder lower case; a handler
        // reads them through `http::HeaderMap`, where case does not matter.
        for headers in ["headers", "multiValueHeaders"] {
            let lower = |v: &Value| -> Vec<(String, Value)> {
                let mut h: Vec<(String, Value)> = v[headers]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                    .filter(|(k, _)| k == "origin" || k == "accept")
                    .collect();
                h.sort_by(|a, b| a.0.cmp(&b.0));
                h
            };
            assert_eq!(lower(&ours), lower(&documented), "{headers}");
        }
        let keys = |v: &Value| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        let unknown: Vec<String> = keys(&ours)
            .into_iter()
            .filter(|k| documented.get(k).is_none())
            .collect();
        assert!(unknown.is_empty(), "fields AWS never sends: {unknown:?}");
    }

    #[test]
    fn both_events_reach_a_handler_alike() {
        let documented = request_from_json(&serde_json::from_str(DOCUMENTED).unwrap()).unwrap();
        let ours = built().to_request().unwrap();
        for request in [&documented, &ours] {
            assert_eq!(request.method(), Method::GET);
            assert_eq!(request.raw_http_path(), "/products/pizza");
            let id = request.path_parameters_ref().and_then(|p| p.first("id"));
            assert_eq!(id, Some("pizza"));
            assert_eq!(request.headers()["origin"], "https://shop.example.com");
            assert_eq!(crate::request::base_path(request), "/prod");
            let principal = principal(request).unwrap();
            assert_eq!(principal.sub.as_str(), "alice");
        }
        assert!(request_from_json(&json!({"httpMethod": 7})).is_err());
    }

    #[test]
    fn a_response_becomes_the_documented_proxy_answer() {
        let response = lambda_http::Response::builder()
            .status(201)
            .header("content-type", "application/json")
            .header("etag", "\"3\"")
            .body(lambda_http::Body::Text("{\"ok\":true}".into()))
            .unwrap();
        assert_eq!(
            proxy_response(response),
            json!({
                "statusCode": 201,
                "headers": {"content-type": "application/json", "etag": "\"3\""},
                "body": "{\"ok\":true}",
                "isBase64Encoded": false,
            })
        );
        let binary = lambda_http::Response::builder()
            .status(200)
            .body(lambda_http::Body::Binary(b"abc".to_vec()))
            .unwrap();
        assert_eq!(proxy_response(binary)["body"], "abc");
        let empty = lambda_http::Response::builder()
            .status(204)
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert_eq!(proxy_response(empty)["body"], "");
    }
}
