//! Lambda wiring only (the one way: `composition::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    composition::lambda::serve_http::<update_product::UpdateProduct>().await
}
