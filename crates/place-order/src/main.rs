//! Lambda wiring only: configuration, the AWS adapters, the handler to the runtime.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{service_fn, tracing};
use place_order::{PlaceOrder, handler};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing::init_default_subscriber();
    let env = config::Env;
    let app = PlaceOrder {
        catalog: Arc::new(store_dynamodb::from_env(&env).await?),
        queue: Arc::new(bus_aws::SqsQueue::from_env(&env).await?),
        cors: http_kit::Cors::from_env(&env)?,
    };
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Infallible>(handler(app, req).await)
    }))
    .await
}
