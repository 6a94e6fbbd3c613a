//! Lambda wiring only: configuration, the AWS adapters, the handler to the runtime.

use std::sync::Arc;

use place_order::{PlaceOrder, handler};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let env = config::Env;
    let app = PlaceOrder {
        catalog: Arc::new(store_dynamodb::from_env(&env).await?),
        queue: Arc::new(bus_aws::SqsQueue::from_env(&env).await?),
        cors: http_kit::Cors::from_env(&env)?,
    };
    http_kit::run(app, handler).await
}
