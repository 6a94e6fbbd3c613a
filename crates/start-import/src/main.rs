//! Lambda wiring only (the one way: `composition::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    composition::lambda::serve_http::<start_import::StartImport>().await
}
