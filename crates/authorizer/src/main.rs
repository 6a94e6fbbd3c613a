//! Lambda wiring only (the one way: `composition::lambda`): API Gateway's TOKEN authorizer
//! requests.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    composition::lambda::serve_events::<authorizer::Authorizer>().await
}
