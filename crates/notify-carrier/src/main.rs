//! Lambda wiring only: configuration, the AWS adapters, the handler to the runtime. A failed
//! invocation is retried by Lambda's async invoke, then sent to the notifications DLQ.

use std::sync::Arc;

use aws_lambda_events::sns::SnsEvent;
use lambda_runtime::{LambdaEvent, service_fn, tracing};
use notify_carrier::{NotifyCarrier, handler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init_default_subscriber();
    let env = config::Env;
    let store = Arc::new(store_dynamodb::from_env(&env).await?);
    let app = NotifyCarrier {
        orders: store.clone(),
        carriers: store,
        sms: Arc::new(bus_aws::SnsSms::from_env().await),
    };
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SnsEvent>| async move {
        handler(app, event.payload)
            .await
            .map_err(|e| lambda_runtime::Diagnostic {
                error_type: if e.is_transient() {
                    "Transient".to_owned()
                } else {
                    "Permanent".to_owned()
                },
                error_message: e.to_string(),
            })
    }))
    .await
}
