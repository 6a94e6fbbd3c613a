//! Lambda wiring only (the one way: `composition::lambda`): the orders queue's SQS events.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    composition::lambda::serve_events::<order_processor::Processor>().await
}
