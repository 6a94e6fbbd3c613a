//! Lambda wiring only: configuration, the AWS adapters, the handler to the runtime.

use std::convert::Infallible;
use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn, tracing};
use order_processor::{Processor, handler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init_default_subscriber();
    let env = config::Env;
    let store = Arc::new(store_dynamodb::from_env(&env).await?);
    let app = Processor {
        catalog: store.clone(),
        orders: store,
        queue: Arc::new(bus_aws::SqsQueue::from_env(&env).await?),
        events: Arc::new(bus_aws::SnsTopic::from_env(&env).await?),
    };
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Infallible>(handler(app, event.payload).await)
    }))
    .await
}
