//! Building responses: a handler's [`Reply`] (JSON with `ETag` and `Location` when it has
//! them), and the problem+json of an error.

use domain::Error;
use http::HeaderValue;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, ETAG, LOCATION, RETRY_AFTER};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::problem::problem;

fn with_body(status: u16, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What a handler answers: a JSON document with its status, and the headers that name it.
pub struct Reply(Response<Body>);

impl Reply {
    pub fn json<T: Serialize>(status: u16, value: &T) -> Reply {
        Reply(json_response(status, value))
    }

    /// The `ETag` of the resource's version (`"3"`).
    pub fn etag(self, version: u64) -> Reply {
        self.header(ETAG, &domain::product::etag(version))
    }

    /// The `Location` of the resource the request created or queued, as a path of the API
    /// (`/orders/…`); the endpoint puts the client's base path (the stage) in front.
    pub fn location(self, path: &str) -> Reply {
        self.header(LOCATION, path)
    }

    /// The reply as the client addresses the API: its `Location` under `base_path`.
    pub(crate) fn under(self, base_path: &str) -> Reply {
        let location = self
            .0
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .filter(|l| l.starts_with('/'))
            .map(|l| format!("{base_path}{l}"));
        match location {
            Some(location) => self.header(LOCATION, &location),
            None => self,
        }
    }

    fn header(mut self, name: http::HeaderName, value: &str) -> Reply {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.0.headers_mut().insert(name, v);
        }
        self
    }

    pub fn into_response(self) -> Response<Body> {
        self.0
    }
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
    let problem = problem(error);
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
    if let Error::TooManyRequests { retry_after, .. } = error {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(*retry_after));
    }
    response
}
