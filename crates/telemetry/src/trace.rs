//! The X-Ray trace header of the work in hand, when it is not the invocation's.
//!
//! In Lambda the SDK sends the invocation's trace header (`_X_AMZN_TRACE_ID`, which the
//! runtime sets for each invocation) with every call, so SQS carries `place-order`'s trace to
//! the orders queue's consumer. But `order-processor` handles a batch of ten orders in one
//! invocation, whose trace is the batch's: each order's event, published under it, would leave
//! the order's own trace behind. So the processor handles each order [`within`] the trace
//! header its SQS message carried (`AWSTraceHeader`), and the topic's adapter sends that
//! header with the order's `Publish` instead: SNS passes it on to `notify-carrier` (a topic's
//! default tracing mode, `PassThrough`), and the order's trace runs from the API to its SMS.

use std::future::Future;

tokio::task_local! {
    static HEADER: String;
}

/// Runs `work` as part of the trace `header` names (`Root=…;Parent=…;Sampled=…`); with none,
/// the work stays in the invocation's trace.
pub async fn within<F: Future>(header: Option<String>, work: F) -> F::Output {
    match header {
        Some(header) => HEADER.scope(header, work).await,
        None => work.await,
    }
}

/// The trace header of the work in hand, when it was given one.
pub fn current() -> Option<String> {
    HEADER.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_header_holds_within_its_work_only() {
        assert_eq!(current(), None);
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let seen = within(Some(header.to_owned()), async { current() }).await;
        assert_eq!(seen.as_deref(), Some(header));
        assert_eq!(within(None, async { current() }).await, None);
        assert_eq!(current(), None);
    }
}
