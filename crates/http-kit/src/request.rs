//! Reading requests: principal, body, parameters, preconditions.

use domain::auth::Principal;
use domain::product::parse_if_match;
use domain::{Error, validation::FieldError};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::Value;

use crate::MAX_BODY_BYTES;

/// The principal the authorizer put in the request context (`sub`, `scope`, `company_id`).
/// Absent context means the request did not pass the authorizer: 401.
pub fn principal(req: &Request) -> Result<Principal, Error> {
    let fields = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => &ctx.authorizer.fields,
        _ => return Err(Error::Unauthorized("No authorizer context".to_owned())),
    };
    let text = |key: &str| fields.get(key).and_then(Value::as_str);
    let sub = text("sub")
        .ok_or_else(|| Error::Unauthorized("No principal in the authorizer context".to_owned()))?;
    Principal::from_claims(sub, text("scope").unwrap_or(""), text("company_id"))
}

/// The API Gateway request id, for logs.
pub fn request_id(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.request_id.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_owned)
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_owned)
}

/// The `If-Match` version, if the header is present.
pub fn if_match(req: &Request) -> Result<Option<u64>, Error> {
    match req.headers().get(http::header::IF_MATCH) {
        None => Ok(None),
        Some(v) => {
            let s = v
                .to_str()
                .map_err(|_| Error::validation("If-Match", "must be ASCII"))?;
            parse_if_match(s).map(Some)
        }
    }
}

fn is_json(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// The JSON body: 413 over 64 KiB, 415 unless `Content-Type` is JSON, 400 naming `body` if it
/// is empty or not JSON.
pub fn json_body(req: &Request) -> Result<Value, Error> {
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
        return Err(Error::Validation(vec![FieldError::new(
            "body",
            "is required",
        )]));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        Error::Validation(vec![FieldError::new(
            "body",
            format!("is not valid JSON: {e}"),
        )])
    })
}
