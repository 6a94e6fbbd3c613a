//! Lambda wiring only: configuration, the DynamoDB adapter, the handler to the runtime.

use std::convert::Infallible;
use std::sync::Arc;

use get_order::{GetOrder, handler};
use lambda_http::{service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing::init_default_subscriber();
    let env = config::Env;
    let app = GetOrder {
        orders: Arc::new(store_dynamodb::from_env(&env).await?),
        cors: http_kit::Cors::from_env(&env)?,
    };
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Infallible>(handler(app, req).await)
    }))
    .await
}
