//! The one classification of AWS SDK errors into [`PortError`]s, shared by every AWS adapter:
//! timeouts, dispatch failures, throttling and service-side faults are transient (the caller
//! may retry; the queue retries the message); everything else is permanent.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use domain::PortError;

/// Error codes for which retrying may succeed, across DynamoDB, SQS and SNS.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "ThrottlingError",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "InternalServerError",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionConflict",
    "TransactionInProgressException",
    "LimitExceededException",
    "KMSThrottlingException",
    // S3
    "SlowDown",
    "RequestTimeout",
];

pub fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code)
}

/// Classifies an SDK error from `operation`.
pub fn classify<E, R>(operation: &str, err: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => service.err().code().is_some_and(is_transient_code),
        _ => false,
    };
    let detail = format!("{operation}: {}", DisplayErrorContext(&err));
    if transient {
        PortError::Transient(detail)
    } else {
        PortError::Permanent(detail)
    }
}

/// Whether the error is a failed condition expression.
pub fn is_conditional_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_is_transient() {
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "InternalServerError",
        ] {
            assert!(is_transient_code(code));
        }
        assert!(!is_transient_code("ValidationException"));
        assert!(!is_transient_code("ConditionalCheckFailedException"));
    }
}
