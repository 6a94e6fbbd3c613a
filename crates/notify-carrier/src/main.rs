//! Lambda wiring only (the one way: `composition::lambda`): the `order-events` subscription's
//! SNS events. A failed invocation is retried by Lambda's async invoke, then sent to the
//! notifications DLQ.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    composition::lambda::serve_events::<notify_carrier::NotifyCarrier>().await
}
