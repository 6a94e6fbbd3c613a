//! Lambda wiring only: configuration, then the handler to the runtime.

use authorizer::{AuthorizerResponse, Unauthorized, Verifier, authorize};
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use lambda_runtime::{LambdaEvent, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init_default_subscriber();
    let verifier = Verifier::from_env(&config::Env)?;
    let verifier = &verifier;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequest>| async move {
        let result: Result<AuthorizerResponse, Unauthorized> = authorize(verifier, &event.payload);
        if let Err(e) = &result {
            tracing::info!(request_id = %event.context.request_id, reason = %e.reason, "token refused");
        }
        result
    }))
    .await
}
