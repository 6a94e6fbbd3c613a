//! Building responses: JSON and problem+json.

use domain::Error;
use http::HeaderValue;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use lambda_http::{Body, Response};
use serde::Serialize;

fn with_body(status: u16, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A JSON response.
pub fn json_response<T: Serialize>(status: u16, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(body) => with_body(status, "application/json", body),
        Err(e) => problem_response(&Error::Internal(format!("serialising the response: {e}"))),
    }
}

/// The problem+json response of an error (RFC 9457), with `Allow` on a 405.
pub fn problem_response(error: &Error) -> Response<Body> {
    let problem = error.problem();
    let body = serde_json::to_string(&problem).unwrap_or_else(|_| {
        format!(
            r#"{{"type":"about:blank","title":"Error","status":{},"detail":""}}"#,
            problem.status
        )
    });
    let mut response = with_body(problem.status, "application/problem+json", body);
    if let Error::MethodNotAllowed { allowed } = error
        && let Ok(v) = HeaderValue::from_str(&allowed.join(", "))
    {
        response.headers_mut().insert(ALLOW, v);
    }
    response
}
