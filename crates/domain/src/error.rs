//! The one error family of the API. The domain names what went wrong; the HTTP edge
//! (`http-kit`) alone decides the status code and the problem+json document of each variant.
//! Adapters return [`PortError`], which converts into [`Error`].

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
    /// 422: an `Idempotency-Key` already used with another request.
    #[error("idempotency key reused: {0}")]
    IdempotencyKeyReused(String),
    /// 412: `If-Match` names a version that is no longer current.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// 413: the body exceeds the limit.
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415: the body is not JSON.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// 429: the caller placed as many orders as it may this hour; `retry_after` seconds until
    /// it may again.
    #[error("too many requests: {detail}")]
    TooManyRequests { detail: String, retry_after: u64 },
    /// 503: a dependency is throttling or timed out; the client may retry.
    #[error("temporarily unavailable: {0}")]
    Transient(String),
    /// 500: a real fault. The detail is logged, never sent to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Validation(vec![FieldError::new(field, message)])
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
    fn port_errors_map_to_what_the_client_did_or_may_do() {
        assert!(matches!(
            Error::from(PortError::InvalidCursor),
            Error::Validation(e) if e[0].field == "cursor"
        ));
        assert!(matches!(
            Error::from(PortError::Conflict),
            Error::PreconditionFailed(_)
        ));
        assert!(matches!(
            Error::from(PortError::Transient("x".into())),
            Error::Transient(_)
        ));
        assert!(matches!(
            Error::from(PortError::Permanent("x".into())),
            Error::Internal(_)
        ));
        assert!(matches!(
            Error::from(PortError::NotFound),
            Error::NotFound(_)
        ));
    }

    #[test]
    fn only_a_transient_port_error_is_worth_a_retry() {
        assert!(PortError::Transient("throttled".into()).is_transient());
        for settled in [
            PortError::Conflict,
            PortError::InvalidCursor,
            PortError::NotFound,
            PortError::Permanent("gone".into()),
        ] {
            assert!(!settled.is_transient(), "{settled:?}");
        }
    }
}
