//! Lambda wiring only (the one way: `composition::lambda`): EventBridge Scheduler's
//! invocation every five minutes.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    composition::lambda::serve_events::<reconciler::Reconciler>().await
}
