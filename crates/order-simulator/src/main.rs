//! Lambda wiring only: configuration, the AWS adapters, and the two triggers: an API Gateway
//! proxy event (`POST /simulations`) or a direct invocation with the simulation payload.

use std::sync::Arc;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn, tracing};
use order_simulator::{Simulator, handler, invoke};
use serde_json::{Value, json};

/// The proxy-integration response API Gateway expects.
fn proxy_response(response: lambda_http::Response<lambda_http::Body>) -> Value {
    let headers: serde_json::Map<String, Value> = response
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), Value::from(v)))
        })
        .collect();
    let body = match response.body() {
        lambda_http::Body::Text(t) => t.clone(),
        lambda_http::Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    json!({"statusCode": response.status().as_u16(), "headers": headers, "body": body, "isBase64Encoded": false})
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init_default_subscriber();
    let env = config::Env;
    let app = Simulator {
        catalog: Arc::new(store_dynamodb::from_env(&env).await?),
        queue: Arc::new(bus_aws::SqsQueue::from_env(&env).await?),
        cors: http_kit::Cors::from_env(&env)?,
    };
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        if event.payload.get("httpMethod").is_some() {
            let request =
                lambda_http::request::from_str(&event.payload.to_string()).map_err(|e| {
                    Diagnostic {
                        error_type: "InvalidEvent".to_owned(),
                        error_message: e.to_string(),
                    }
                })?;
            return Ok(proxy_response(handler(app, request).await));
        }
        match invoke(app, &event.payload).await {
            Ok(outcome) => Ok(json!(outcome)),
            Err(e) => Err(Diagnostic {
                error_type: e.problem().title.to_owned(),
                error_message: serde_json::to_string(&e.problem())
                    .unwrap_or_else(|_| e.to_string()),
            }),
        }
    }))
    .await
}
