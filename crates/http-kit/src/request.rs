//! The request a handler gets once the route table has admitted it: its route, its principal,
//! and typed access to parameters, headers and the JSON body.

use domain::Error;
use domain::auth::{Principal, Route};
use domain::product::parse_if_match;
use domain::validation::FieldError;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::Value;

use crate::MAX_BODY_BYTES;

/// An admitted request: the route it matched and a principal that holds the route's scope.
pub struct ApiRequest {
    pub route: &'static Route,
    pub principal: Principal,
    request: Request,
}

impl ApiRequest {
    pub(crate) fn new(route: &'static Route, principal: Principal, request: Request) -> ApiRequest {
        ApiRequest {
            route,
            principal,
            request,
        }
    }

    /// A path parameter of the route, e.g. `id` of `/products/{id}`.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.request
            .path_parameters_ref()
            .and_then(|p| p.first(name))
    }

    /// The first value of a query-string parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.request
            .query_string_parameters_ref()
            .and_then(|q| q.first(name))
    }

    /// A header's value; one that is not visible ASCII is a 400 naming the header.
    pub fn header(&self, name: &'static str) -> Result<Option<&str>, Error> {
        match self.request.headers().get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(Some)
                .map_err(|_| Error::validation(name, "must be visible ASCII")),
        }
    }

    /// API Gateway's id of this request (empty when the event has none).
    pub fn request_id(&self) -> String {
        request_id_and_resource(&self.request).0
    }

    /// The `If-Match` version, if the header is present.
    pub fn if_match(&self) -> Result<Option<u64>, Error> {
        self.header("If-Match")?.map(parse_if_match).transpose()
    }

    /// The JSON body, validated by `parse` (a domain type's `from_json`): 413 over 64 KiB, 415
    /// unless `Content-Type` is JSON, 400 naming `body` if it is empty or not JSON, and 400
    /// naming every field `parse` refuses.
    pub fn json<T>(
        &self,
        parse: impl FnOnce(&Value) -> Result<T, Vec<FieldError>>,
    ) -> Result<T, Error> {
        parse(&json_body(&self.request)?).map_err(Error::Validation)
    }
}

/// The principal the authorizer put in the request context (`sub`, `scope`, `company_id`).
/// Absent context means the request did not pass the authorizer: 401.
pub(crate) fn principal(req: &Request) -> Result<Principal, Error> {
    let fields = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => &ctx.authorizer.fields,
        _ => return Err(Error::Unauthorized("No authorizer context".to_owned())),
    };
    let text = |key: &str| fields.get(key).and_then(Value::as_str);
    let sub = text("sub")
        .ok_or_else(|| Error::Unauthorized("No principal in the authorizer context".to_owned()))?;
    Principal::from_claims(sub, text("scope").unwrap_or(""), text("company_id"))
}

/// What the client's URL has before the API's paths: the request context's path less the
/// event's own path (`/prod/orders` less `/orders` is `/prod`; a custom domain's base path the
/// same way; nothing locally).
pub(crate) fn base_path(req: &Request) -> String {
    let Some(RequestContext::ApiGatewayV1(ctx)) = req.request_context_ref() else {
        return String::new();
    };
    let full = ctx.path.as_deref().unwrap_or_default();
    full.strip_suffix(req.raw_http_path())
        .filter(|base| base.starts_with('/') && !base.ends_with('/'))
        .unwrap_or_default()
        .to_owned()
}

/// The API Gateway request id and matched resource (e.g. `/products/{id}`).
pub(crate) fn request_id_and_resource(req: &Request) -> (String, String) {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => (
            ctx.request_id.clone().unwrap_or_default(),
            ctx.resource_path.clone().unwrap_or_default(),
        ),
        _ => (String::new(), String::new()),
    }
}

/// Whether a `Content-Type` is JSON (`application/json`, or any `application/*+json`).
pub fn is_json(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

fn json_body(req: &Request) -> Result<Value, Error> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !content_type.is_some_and(is_json) {
        return Err(Error::UnsupportedMediaType(
            "Send the body as application/json".to_owned(),
        ));
    }
    if bytes.is_empty() {
        return Err(Error::validation("body", "is required"));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Error::validation("body", format!("is not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::ProxyEvent;
    use domain::auth::ROUTES;

    fn patch(headers: &[(&str, &str)], query: &[(&str, &str)], body: Option<&str>) -> ApiRequest {
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let event = ProxyEvent {
            method: http::Method::PATCH,
            path: "/products/p1".into(),
            resource: "/products/{id}".into(),
            path_parameters: pairs(&[("id", "p1")]),
            headers: pairs(headers),
            query: pairs(query),
            body: body.map(str::to_owned),
            ..ProxyEvent::default()
        };
        let route = ROUTES.iter().find(|r| r.method == "PATCH").unwrap();
        let principal = Principal::from_claims("u1", "products:write", Some("acme")).unwrap();
        ApiRequest::new(route, principal, event.to_request().unwrap())
    }

    fn body(content_type: &str, body: &str) -> Result<Value, Error> {
        patch(&[("content-type", content_type)], &[], Some(body)).json(|v| Ok(v.clone()))
    }

    #[test]
    fn parameters_and_headers_are_read_as_sent() {
        let request = patch(
            &[("if-match", "\"7\""), ("x-trace", "abc")],
            &[("limit", "5"), ("limit", "9"), ("cursor", "")],
            None,
        );
        assert_eq!(request.path_param("id"), Some("p1"));
        assert_eq!(request.query("limit"), Some("5"), "the first value");
        assert_eq!(request.query("cursor"), Some(""));
        assert_eq!(request.query("missing"), None);
        assert_eq!(request.header("X-Trace").unwrap(), Some("abc"));
        assert_eq!(request.header("x-missing").unwrap(), None);
        assert_eq!(request.if_match().unwrap(), Some(7));
        assert_eq!(patch(&[], &[], None).if_match().unwrap(), None);
        let Err(Error::Validation(fields)) = patch(&[("if-match", "7")], &[], None).if_match()
        else {
            panic!("an unquoted version is a 400")
        };
        assert_eq!(fields[0].field, "If-Match");
    }

    #[test]
    fn json_media_types() {
        for json in [
            "application/json",
            "Application/JSON; charset=utf-8",
            " application/json ",
            "application/merge-patch+json",
            "application/problem+json;q=1",
        ] {
            assert!(is_json(json), "{json}");
        }
        for other in [
            "",
            "text/plain",
            "text/json",
            "application/jsonx",
            "application/xml",
            "image/svg+json",
            "application/json-seq",
        ] {
            assert!(!is_json(other), "{other}");
        }
    }

    #[test]
    fn the_body_is_json_of_at_most_64_kib() {
        assert_eq!(
            body("application/json", r#"{"a": 1}"#).unwrap(),
            serde_json::json!({"a": 1})
        );
        // Exactly the limit is read; one byte more is a 413 before anything is parsed.
        let at_limit = format!("\"{}\"", "x".repeat(MAX_BODY_BYTES - 2));
        assert_eq!(at_limit.len(), 64 * 1024);
        assert!(body("application/json", &at_limit).is_ok());
        let over = format!("\"{}\"", "x".repeat(MAX_BODY_BYTES - 1));
        assert!(matches!(
            body("application/json", &over),
            Err(Error::PayloadTooLarge { limit: 65536 })
        ));
        assert!(matches!(
            body("text/plain", "{}"),
            Err(Error::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            patch(&[], &[], Some("{}")).json(|v| Ok(v.clone())),
            Err(Error::UnsupportedMediaType(_))
        ));
        for (bad, why) in [("", "is required"), ("{", "is not valid JSON")] {
            let Err(Error::Validation(fields)) = body("application/json", bad) else {
                panic!("{bad:?} is a 400")
            };
            assert_eq!(fields[0].field, "body");
            assert!(fields[0].message.starts_with(why), "{:?}", fields[0]);
        }
        let refused = patch(&[("content-type", "application/json")], &[], Some("{}"))
            .json(|_| Err::<(), _>(vec![FieldError::new("name", "is required")]));
        assert!(matches!(refused, Err(Error::Validation(f)) if f[0].field == "name"));
    }

    #[test]
    fn the_base_path_is_what_the_client_url_has_before_the_api_path() {
        let at = |base_path: &str| {
            let event = ProxyEvent {
                method: http::Method::GET,
                path: "/orders".into(),
                resource: "/orders".into(),
                base_path: base_path.into(),
                ..ProxyEvent::default()
            };
            super::base_path(&event.to_request().unwrap())
        };
        assert_eq!(at("/prod"), "/prod");
        assert_eq!(at("/v1/shop"), "/v1/shop");
        assert_eq!(at(""), "");
        assert_eq!(at("/prod/"), "", "a base ending in / is no base");
        assert_eq!(at("prod"), "", "nor one not starting with /");
    }
}
