//! The one way an HTTP function meets API Gateway: [`Endpoint`] admits a request by the route
//! table (404, 405), the authorizer's principal (401) and the route's scope (403), runs the
//! handler inside a span carrying the request id, turns errors into problem+json, and adds the
//! CORS headers. Handlers ([`HttpFunction`]) keep only their own logic.

use std::future::Future;

use domain::Error;
use domain::auth::{Function, ROUTES, Route};
use domain::validation::FieldError;
use lambda_http::{Body, Request, RequestExt, Response};
use tracing::Instrument;

use crate::problem::{is_server_fault, status};
use crate::request::{ApiRequest, base_path, principal, request_id_and_resource};
use crate::response::problem_response;
use crate::{Cors, Reply};

/// An HTTP function's own logic, for the routes of [`ROUTES`] that name its [`Function`].
pub trait HttpFunction: Send + Sync + 'static {
    const FUNCTION: Function;

    fn handle(&self, request: ApiRequest) -> impl Future<Output = Result<Reply, Error>> + Send;
}

/// An HTTP function with the CORS policy of its deployment.
pub struct Endpoint<F> {
    function: F,
    cors: Cors,
}

impl<F: HttpFunction> Endpoint<F> {
    pub fn new(function: F, cors: Cors) -> Endpoint<F> {
        Endpoint { function, cors }
    }

    pub fn function(&self) -> &F {
        &self.function
    }

    /// The response to one API Gateway proxy request, as Lambda and `delivery-local` call it.
    pub async fn call(&self, request: Request) -> Response<Body> {
        let origin = request
            .headers()
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (request_id, resource) = request_id_and_resource(&request);
        let span = tracing::info_span!(
            "request",
            %request_id,
            method = %request.method(),
            %resource,
            order_id = tracing::field::Empty,
        );
        let mut response = self.respond(request, &resource).instrument(span).await;
        self.cors.apply(origin.as_deref(), response.headers_mut());
        response
    }

    async fn respond(&self, request: Request, resource: &str) -> Response<Body> {
        let base_path = base_path(&request);
        let outcome = match admit::<F>(request, resource) {
            Ok(admitted) => self.function.handle(admitted).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(reply) => reply.under(&base_path).into_response(),
            Err(e) if is_server_fault(&e) => {
                tracing::error!(error = %e, "request failed");
                telemetry::fault();
                problem_response(&e)
            }
            Err(e) => {
                tracing::info!(status = status(&e), error = %e, "request refused");
                problem_response(&e)
            }
        }
    }
}

/// The route the request matched among `F`'s, and its principal holding the route's scope.
fn admit<F: HttpFunction>(request: Request, resource: &str) -> Result<ApiRequest, Error> {
    let route = route::<F>(request.method().as_str(), resource)?;
    let principal = principal(&request)?;
    principal.require(route.scope)?;
    refuse_unknown_query(&request, route)?;
    Ok(ApiRequest::new(route, principal, request))
}

/// A query parameter the route does not read is a 400, as an unknown body field is: `?limt=5`
/// must not silently mean the default.
fn refuse_unknown_query(request: &Request, route: &Route) -> Result<(), Error> {
    let mut unknown: Vec<FieldError> = Vec::new();
    for (name, _) in request
        .query_string_parameters_ref()
        .into_iter()
        .flat_map(|q| q.iter())
    {
        if !route.query.contains(&name) && !unknown.iter().any(|e| e.field == name) {
            unknown.push(FieldError::new(name, "is not a known query parameter"));
        }
    }
    // The query arrives as a map: sorted, the same request always gets the same answer.
    unknown.sort_by(|a, b| a.field.cmp(&b.field));
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(unknown))
    }
}

/// `F`'s route for `method` on `resource`: 404 if the resource is none of `F`'s, 405 (with the
/// methods it has) if the method is not.
fn route<F: HttpFunction>(method: &str, resource: &str) -> Result<&'static Route, Error> {
    let on_resource: Vec<&'static Route> = ROUTES
        .iter()
        .filter(|r| r.function == F::FUNCTION && r.resource == resource)
        .collect();
    if on_resource.is_empty() {
        return Err(Error::NotFound("No such route".to_owned()));
    }
    on_resource
        .iter()
        .find(|r| r.method == method)
        .copied()
        .ok_or_else(|| Error::MethodNotAllowed {
            allowed: on_resource.iter().map(|r| r.method).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::ProxyEvent;
    use serde_json::{Value, json};
    use std::collections::HashMap;

    /// Answers with what it was admitted with.
    struct Echo;

    impl HttpFunction for Echo {
        const FUNCTION: Function = Function::UpdateProduct;

        async fn handle(&self, request: ApiRequest) -> Result<Reply, Error> {
            let id = request.path_param("id").unwrap_or_default().to_owned();
            match id.as_str() {
                "fault" => return Err(Error::Internal("the store is gone".into())),
                "refused" => return Err(Error::PreconditionFailed("stale".into())),
                _ => {}
            }
            let reply = Reply::json(200, &json!({"method": request.route.method, "id": id}));
            Ok(reply.etag(2).location(&format!("/products/{id}")))
        }
    }

    fn call(method: &str, resource: &str, scope: &str) -> Response<Body> {
        call_with(method, resource, scope, "p1", &[])
    }

    fn call_with(
        method: &str,
        resource: &str,
        scope: &str,
        id: &str,
        query: &[(&str, &str)],
    ) -> Response<Body> {
        let event = ProxyEvent {
            method: http::Method::from_bytes(method.as_bytes()).unwrap(),
            path: format!("/products/{id}"),
            resource: resource.into(),
            path_parameters: vec![("id".into(), id.into())],
            query: query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            headers: vec![("origin".into(), "https://a.example".into())],
            // Served at https://abc.execute-api…/v1: the stage is in the client's URLs.
            stage: "v1".into(),
            base_path: "/v1".into(),
            authorizer: HashMap::from([
                ("sub".to_owned(), Value::from("u1")),
                ("scope".to_owned(), Value::from(scope)),
            ]),
            ..ProxyEvent::default()
        };
        let endpoint = Endpoint::new(Echo, Cors::new(vec!["https://a.example".into()]));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(endpoint.call(event.to_request().unwrap()))
    }

    #[test]
    fn admits_by_the_route_table_and_adds_cors() {
        let ok = call("PATCH", "/products/{id}", "products:write");
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.headers()["etag"], "\"2\"");
        assert_eq!(
            ok.headers()["location"],
            "/v1/products/p1",
            "under the stage"
        );
        assert_eq!(
            ok.headers()["access-control-allow-origin"],
            "https://a.example"
        );
        let body: Value = serde_json::from_slice(ok.body().as_ref()).unwrap();
        assert_eq!(body, json!({"method": "PATCH", "id": "p1"}));

        let wrong_method = call("DELETE", "/products/{id}", "products:write");
        assert_eq!(wrong_method.status(), 405);
        assert_eq!(wrong_method.headers()["allow"], "PUT, PATCH");
        assert_eq!(
            wrong_method.headers()["access-control-allow-origin"],
            "https://a.example"
        );
        assert_eq!(call("GET", "/orders", "products:write").status(), 404);
        assert_eq!(call("PUT", "/products/{id}", "products:read").status(), 403);
    }

    fn problem_of(response: &Response<Body>) -> Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn an_unknown_query_parameter_is_a_400_naming_each_once() {
        let refused = call_with(
            "PATCH",
            "/products/{id}",
            "products:write",
            "p1",
            &[("limt", "5"), ("limt", "6"), ("x", "")],
        );
        assert_eq!(refused.status(), 400);
        let fields: Vec<Value> = problem_of(&refused)["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].clone())
            .collect();
        assert_eq!(fields, [json!("limt"), json!("x")]);
        // A route that reads a parameter admits it (`GET /products` reads `limit`).
        let listing = ROUTES.iter().find(|r| r.resource == "/products").unwrap();
        let event = ProxyEvent {
            query: vec![("limit".into(), "5".into())],
            ..ProxyEvent::default()
        };
        assert!(refuse_unknown_query(&event.to_request().unwrap(), listing).is_ok());
    }

    /// Only a server fault (5xx) counts in the fault metric; a refusal (4xx) is the client's.
    #[test]
    fn a_server_fault_is_counted_and_a_refusal_is_not() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static FAULTS: AtomicUsize = AtomicUsize::new(0);
        telemetry::set_sink(|metric, value, _| {
            if metric == telemetry::FAULTS {
                FAULTS.fetch_add(value as usize, Ordering::SeqCst);
            }
        });
        let before = FAULTS.load(Ordering::SeqCst);
        let refused = call_with("PATCH", "/products/{id}", "products:write", "refused", &[]);
        assert_eq!(refused.status(), 412);
        assert_eq!(FAULTS.load(Ordering::SeqCst), before);
        let fault = call_with("PATCH", "/products/{id}", "products:write", "fault", &[]);
        assert_eq!(fault.status(), 500);
        assert_eq!(FAULTS.load(Ordering::SeqCst), before + 1);
        assert!(
            !problem_of(&fault).to_string().contains("the store is gone"),
            "internal details stay in the logs"
        );
    }
}
