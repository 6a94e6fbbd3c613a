//! What every HTTP function needs, done one way: the principal from the authorizer context,
//! JSON bodies (64 KiB limit, field-level errors), problem+json responses, CORS, `ETag` and
//! `If-Match`, and [`respond`], the wrapper that turns a handler's `Result` into a response.

mod cors;
pub mod events;
mod request;
mod response;

pub use cors::Cors;
pub use request::{if_match, json_body, path_param, principal, query_param, request_id};
pub use response::{json_response, problem_response};

use std::future::Future;

use domain::Error;
use lambda_http::{Body, Request, Response};

/// Largest accepted request body (SPEC §4): larger is 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Hands an HTTP function's handler to the Lambda runtime: the one `main` loop of every HTTP
/// function. The app lives as long as the process, as a Lambda instance's state does.
pub async fn run<A, F, Fut>(app: A, handler: F) -> Result<(), lambda_http::Error>
where
    A: Send + Sync + 'static,
    F: Fn(&'static A, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let app: &'static A = Box::leak(Box::new(app));
    let handler = &handler;
    lambda_http::run(lambda_http::service_fn(move |req| {
        let response = handler(app, req);
        async move { Ok::<_, std::convert::Infallible>(response.await) }
    }))
    .await
}

/// Runs a handler and makes its outcome a response: errors become problem+json (5xx logged
/// with the request id, details never sent), and every response gets the CORS headers.
pub async fn respond<F, Fut>(cors: &Cors, req: Request, handle: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, Error>>,
{
    let origin = req
        .headers()
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let request_id = request_id(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut response = match handle(req).await {
        Ok(response) => response,
        Err(e) if e.is_server_fault() => {
            tracing::error!(%request_id, %method, %path, error = %e, "request failed");
            problem_response(&e)
        }
        Err(e) => {
            tracing::info!(%request_id, %method, %path, status = e.status(), error = %e, "request refused");
            problem_response(&e)
        }
    };
    cors.apply(origin.as_deref(), response.headers_mut());
    response
}
