//! Lambda wiring only (the one way: `composition::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    composition::lambda::serve_events::<pre_token::PreToken>().await
}
