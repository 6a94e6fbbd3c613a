//! The one mapping of [`domain::Error`] to an HTTP status and an RFC 9457 problem document.
//! The domain names what went wrong; only this table decides what HTTP says about it.

use domain::Error;
use domain::validation::FieldError;
use serde::Serialize;

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

/// `(status, type slug, title)` of an error: the one table from error to HTTP.
fn parts(error: &Error) -> (u16, &'static str, &'static str) {
    match error {
        Error::Validation(_) => (400, "validation-error", "Invalid request"),
        Error::Unprocessable(_) => (422, "unprocessable", "The request cannot be served"),
        Error::Unauthorized(_) => (401, "unauthorized", "Unauthorized"),
        Error::Forbidden(_) => (403, "forbidden", "Forbidden"),
        Error::NotFound(_) => (404, "not-found", "Not found"),
        Error::MethodNotAllowed { .. } => (405, "method-not-allowed", "Method not allowed"),
        Error::IdempotencyKeyReused(_) => (
            422,
            "idempotency-key-reused",
            "Idempotency-Key used for another request",
        ),
        Error::PreconditionFailed(_) => (412, "precondition-failed", "Precondition failed"),
        Error::PayloadTooLarge { .. } => (413, "payload-too-large", "Payload too large"),
        Error::UnsupportedMediaType(_) => (415, "unsupported-media-type", "Unsupported media type"),
        Error::TooManyRequests { .. } => (429, "too-many-requests", "Too many requests"),
        Error::Transient(_) => (503, "unavailable", "Service temporarily unavailable"),
        Error::Internal(_) => (500, "internal", "Internal server error"),
    }
}

/// The HTTP status of an error.
pub fn status(error: &Error) -> u16 {
    parts(error).0
}

/// Whether an error is a server-side fault (5xx), to be logged with the request id.
pub fn is_server_fault(error: &Error) -> bool {
    status(error) >= 500
}

/// The problem document of an error. Dependency and internal details stay in the logs.
pub fn problem(error: &Error) -> Problem {
    let (status, slug, title) = parts(error);
    let (detail, errors) = match error {
        Error::Validation(e) => (summary(e, "The request is invalid"), Some(e.clone())),
        Error::Unprocessable(e) => (summary(e, "The request cannot be served"), Some(e.clone())),
        Error::Unauthorized(d)
        | Error::Forbidden(d)
        | Error::NotFound(d)
        | Error::PreconditionFailed(d)
        | Error::IdempotencyKeyReused(d)
        | Error::UnsupportedMediaType(d)
        | Error::TooManyRequests { detail: d, .. } => (d.clone(), None),
        Error::MethodNotAllowed { allowed } => {
            (format!("Allowed methods: {}", allowed.join(", ")), None)
        }
        Error::PayloadTooLarge { limit } => {
            (format!("The request body exceeds {limit} bytes"), None)
        }
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

fn summary(errors: &[FieldError], fallback: &str) -> String {
    match errors {
        [one] => format!("{}: {}", one.field, one.message),
        [] => fallback.to_owned(),
        many => format!("{fallback}: {} problems", many.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::PortError;

    #[test]
    fn validation_problem_names_fields() {
        let e = Error::Validation(vec![FieldError::new("price.amount", "too many digits")]);
        let p = problem(&e);
        assert_eq!(p.status, 400);
        assert_eq!(p.detail, "price.amount: too many digits");
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["type"], "/problems/validation-error");
        assert_eq!(json["errors"][0]["field"], "price.amount");
    }

    #[test]
    fn internal_details_are_not_leaked() {
        let p = problem(&Error::Internal("dynamodb said xyz".into()));
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("xyz"));
        assert!(serde_json::to_value(&p).unwrap().get("errors").is_none());
    }

    #[test]
    fn port_errors_map_to_client_statuses() {
        let of = |e: PortError| status(&Error::from(e));
        assert_eq!(of(PortError::InvalidCursor), 400);
        assert_eq!(of(PortError::Conflict), 412);
        assert_eq!(of(PortError::NotFound), 404);
        assert_eq!(of(PortError::Transient("x".into())), 503);
        assert_eq!(of(PortError::Permanent("x".into())), 500);
        assert!(is_server_fault(&Error::from(PortError::Transient(
            "x".into()
        ))));
    }
}
