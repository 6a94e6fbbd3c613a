//! `get-order`: `GET /orders/{id}` and `GET /orders` (newest first, paginated). Only the
//! caller's own orders: another customer's order is 404, never revealing that it exists.

use std::sync::Arc;

use domain::auth::Scope;
use domain::ports::{OrderStore, PageRequest};
use domain::{Error, OrderId};
use http_kit::{Cors, json_response, path_param, principal, query_param};
use lambda_http::{Body, Request, Response};

pub struct GetOrder {
    pub orders: Arc<dyn OrderStore>,
    pub cors: Cors,
}

pub async fn handler(app: &GetOrder, req: Request) -> Response<Body> {
    http_kit::respond(&app.cors, req, |req| handle(app, req)).await
}

async fn handle(app: &GetOrder, req: Request) -> Result<Response<Body>, Error> {
    let principal = principal(&req)?;
    principal.require(Scope::OrdersRead)?;
    if req.method() != http::Method::GET {
        return Err(Error::MethodNotAllowed {
            allowed: vec!["GET"],
        });
    }
    match path_param(&req, "id") {
        Some(id) => {
            let not_found = || Error::NotFound(format!("No order {id}"));
            let id = OrderId::parse(&id).map_err(|_| not_found())?;
            match app.orders.get(id).await? {
                Some(order) if order.customer_id == principal.sub => Ok(json_response(200, &order)),
                _ => Err(not_found()),
            }
        }
        None => {
            let page = PageRequest::from_query(
                query_param(&req, "limit").as_deref(),
                query_param(&req, "cursor").as_deref(),
            )
            .map_err(Error::Validation)?;
            let orders = app.orders.list_for_customer(&principal.sub, &page).await?;
            Ok(json_response(200, &orders))
        }
    }
}
