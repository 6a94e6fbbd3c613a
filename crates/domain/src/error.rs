//! The one error family of the API and its single mapping to HTTP status + problem+json (RFC 9457).
//!
//! Handlers return [`Error`]; the HTTP layer calls [`Error::problem`] and nothing else decides a
//! status code. Adapters return [`PortError`], which converts into [`Error`].

use serde::Serialize;

use crate::validation::FieldError;

/// Everything a request can end in other than success.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request is malformed; each field error names its field.
    #[error("the request is invalid")]
    Validation(Vec<FieldError>),
    /// 422: well-formed, but the basket cannot be served (unknown product, stock, ...).
    #[error("the request cannot be processed")]
    Unprocessable(Vec<FieldError>),
    /// 401: missing, malformed, badly signed or expired credentials.
    #[error("authentication required: {0}")]
    Unauthorized(String),
    /// 403: authenticated, but not allowed.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404: no such resource (or not the caller's to see).
    #[error("not found: {0}")]
    NotFound(String),
    /// 405: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed { allowed: Vec<&'static str> },
    /// 412: `If-Match` names a version that is no longer current.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// 413: the body exceeds the limit.
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415: the body is not JSON.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// 503: a dependency is throttling or timed out; the client may retry.
    #[error("temporarily unavailable: {0}")]
    Transient(String),
    /// 500: a real fault. The detail is logged, never sent to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

/// An RFC 9457 problem document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

impl Error {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> u16 {
        self.parts().0
    }

    /// Whether this is a server-side fault (5xx), to be logged with the request id.
    pub fn is_server_fault(&self) -> bool {
        self.status() >= 500
    }

    /// `(status, type slug, title)`: the one table from error to HTTP.
    fn parts(&self) -> (u16, &'static str, &'static str) {
        match self {
            Error::Validation(_) => (400, "validation-error", "Invalid request"),
            Error::Unprocessable(_) => (422, "unprocessable", "The request cannot be served"),
            Error::Unauthorized(_) => (401, "unauthorized", "Unauthorized"),
            Error::Forbidden(_) => (403, "forbidden", "Forbidden"),
            Error::NotFound(_) => (404, "not-found", "Not found"),
            Error::MethodNotAllowed { .. } => (405, "method-not-allowed", "Method not allowed"),
            Error::PreconditionFailed(_) => (412, "precondition-failed", "Precondition failed"),
            Error::PayloadTooLarge { .. } => (413, "payload-too-large", "Payload too large"),
            Error::UnsupportedMediaType(_) => {
                (415, "unsupported-media-type", "Unsupported media type")
            }
            Error::Transient(_) => (503, "unavailable", "Service temporarily unavailable"),
            Error::Internal(_) => (500, "internal", "Internal server error"),
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, slug, title) = self.parts();
        let (detail, errors) = match self {
            Error::Validation(e) => (summary(e, "The request is invalid"), Some(e.clone())),
            Error::Unprocessable(e) => {
                (summary(e, "The request cannot be served"), Some(e.clone()))
            }
            Error::Unauthorized(d)
            | Error::Forbidden(d)
            | Error::NotFound(d)
            | Error::PreconditionFailed(d)
            | Error::UnsupportedMediaType(d) => (d.clone(), None),
            Error::MethodNotAllowed { allowed } => {
                (format!("Allowed methods: {}", allowed.join(", ")), None)
            }
            Error::PayloadTooLarge { limit } => {
                (format!("The request body exceeds {limit} bytes"), None)
            }
            // Dependency and internal details stay in the logs.
            Error::Transient(_) => ("Please retry shortly".to_owned(), None),
            Error::Internal(_) => ("An internal error occurred".to_owned(), None),
        };
        Problem {
            kind: format!("/problems/{slug}"),
            title,
            status,
            detail,
            errors,
        }
    }
}

fn summary(errors: &[FieldError], fallback: &str) -> String {
    match errors {
        [one] => format!("{}: {}", one.field, one.message),
        [] => fallback.to_owned(),
        many => format!("{fallback}: {} problems", many.len()),
    }
}

/// Failures of a port (storage, queue, topic, SMS), as the adapters report them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// A conditional write lost: the expected version or state was not current.
    #[error("conflict: the item changed concurrently")]
    Conflict,
    /// A pagination cursor that this store did not issue, or for another listing.
    #[error("invalid cursor")]
    InvalidCursor,
    /// The item does not exist.
    #[error("not found")]
    NotFound,
    /// Throttling, timeouts, unavailable service: retrying may succeed.
    #[error("transient failure: {0}")]
    Transient(String),
    /// Anything else: retrying will not help.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl PortError {
    pub fn is_transient(&self) -> bool {
        matches!(self, PortError::Transient(_))
    }
}

impl From<PortError> for Error {
    fn from(e: PortError) -> Error {
        match e {
            PortError::Conflict => {
                Error::PreconditionFailed("The resource was changed concurrently".to_owned())
            }
            PortError::InvalidCursor => {
                Error::validation("cursor", "is not a cursor returned by this listing")
            }
            PortError::NotFound => Error::NotFound("The resource does not exist".to_owned()),
            PortError::Transient(d) => Error::Transient(d),
            PortError::Permanent(d) => Error::Internal(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problem_names_fields() {
        let e = Error::Validation(vec![FieldError::new("price.amount", "too many digits")]);
        let p = e.problem();
        assert_eq!(p.status, 400);
        assert_eq!(p.detail, "price.amount: too many digits");
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["type"], "/problems/validation-error");
        assert_eq!(json["errors"][0]["field"], "price.amount");
    }

    #[test]
    fn internal_details_are_not_leaked() {
        let p = Error::Internal("dynamodb said xyz".into()).problem();
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("xyz"));
        assert!(serde_json::to_value(&p).unwrap().get("errors").is_none());
    }

    #[test]
    fn port_errors_map_to_client_statuses() {
        assert_eq!(Error::from(PortError::InvalidCursor).status(), 400);
        assert_eq!(Error::from(PortError::Conflict).status(), 412);
        assert_eq!(Error::from(PortError::Transient("x".into())).status(), 503);
        assert_eq!(Error::from(PortError::Permanent("x".into())).status(), 500);
    }
}
