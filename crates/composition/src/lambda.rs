//! The one way a function meets the Lambda runtime: logs set up (JSON when the function's
//! `AWS_LAMBDA_LOG_FORMAT` says so, as the runtime's own subscriber does), the adapters built
//! once for the process, the app built from them, then every invocation handed to it inside a
//! span carrying the invocation's request id. A missing or malformed setting stops the start
//! with an error naming it.

use std::convert::Infallible;
use std::fmt::{Debug, Display};
use std::future::Future;
use std::time::Duration;

use http_kit::{Endpoint, HttpFunction};
use lambda_http::RequestExt;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::{Adapters, App, endpoint};

/// A function triggered by an event (SQS, SNS, an authorizer request, a direct invocation).
pub trait EventFunction: App {
    type Event: DeserializeOwned + Send;
    type Output: Serialize + Send;
    type Error: Display + Debug + Send;

    fn handle(
        &self,
        event: Self::Event,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;

    /// Whether a failed invocation is the function's own fault (counted, and a canary's
    /// rollback alarm watches it), rather than an outcome of its design: a refused token, a
    /// delivery Lambda will retry.
    fn is_fault(_error: &Self::Error) -> bool {
        true
    }

    /// What Lambda records of a failed invocation.
    fn diagnostic(error: &Self::Error) -> Diagnostic {
        Diagnostic {
            error_type: "Error".to_owned(),
            error_message: error.to_string(),
        }
    }
}

async fn start<A: App>() -> Result<A, lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    started(A::new(&Adapters::aws()).await)
}

/// A function that cannot start (a setting missing or malformed, a key set with no usable
/// key) answers every request with an error until it can: its own fault, counted so that its
/// alarm (and a canary's rollback) sees it, and logged with the reason.
fn started<T>(app: Result<T, settings::ConfigError>) -> Result<T, lambda_runtime::Error> {
    app.map_err(|error| {
        telemetry::fault();
        tracing::error!(error = %error, "the function cannot start");
        error.into()
    })
}

/// Runs an HTTP function behind API Gateway (REST, proxy integration).
pub async fn serve_http<F: App + HttpFunction>() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let endpoint = started(endpoint::<F>(&Adapters::aws()).await)?;
    let endpoint: &'static Endpoint<F> = Box::leak(Box::new(endpoint));
    lambda_http::run(lambda_http::service_fn(
        move |request: lambda_http::Request| async move {
            let deadline = request.lambda_context_ref().map(deadline);
            let response = match deadline {
                Some(deadline) => retry_policy::within(deadline, endpoint.call(request)).await,
                None => endpoint.call(request).await,
            };
            Ok::<_, Infallible>(response)
        },
    ))
    .await
}

/// Runs an event function.
pub async fn serve_events<F: EventFunction>() -> Result<(), lambda_runtime::Error> {
    let app: &'static F = Box::leak(Box::new(start::<F>().await?));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<F::Event>| async move {
            let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
            let work = app.handle(event.payload).instrument(span);
            retry_policy::within(deadline(&event.context), work)
                .await
                .map_err(|e| {
                    if F::is_fault(&e) {
                        telemetry::fault();
                    }
                    F::diagnostic(&e)
                })
        },
    ))
    .await
}

/// The invocation's deadline (Lambda gives it in milliseconds since the epoch), for the
/// retries inside it.
fn deadline(context: &lambda_runtime::Context) -> tokio::time::Instant {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let left = Duration::from_millis(context.deadline.saturating_sub(now_ms));
    tokio::time::Instant::now() + left
}
