//! `get-order`: `GET /orders/{id}` and `GET /orders` (newest first, paginated). Only the
//! caller's own orders: another customer's order is 404, never revealing that it exists.

use std::sync::Arc;

use composition::{Adapters, App};
use domain::auth::Function;
use domain::ports::{OrderStore, PageRequest};
use domain::{Error, OrderId};
use http_kit::{ApiRequest, HttpFunction, Reply};
use settings::ConfigError;

pub struct GetOrder {
    pub orders: Arc<dyn OrderStore>,
}

impl App for GetOrder {
    const NAME: &'static str = "get-order";

    async fn new(adapters: &Adapters) -> Result<GetOrder, ConfigError> {
        Ok(GetOrder {
            orders: adapters.order_store().await?,
        })
    }
}

impl HttpFunction for GetOrder {
    const FUNCTION: Function = Function::GetOrder;

    async fn handle(&self, request: ApiRequest) -> Result<Reply, Error> {
        let customer = &request.principal.sub;
        match request.path_param("id") {
            Some(id) => {
                tracing::Span::current().record("order_id", id);
                let not_found = || Error::NotFound(format!("No order {id}"));
                let id = OrderId::parse(id).map_err(|_| not_found())?;
                match self.orders.get(id).await? {
                    Some(order) if &order.customer_id == customer => Ok(Reply::json(200, &order)),
                    _ => Err(not_found()),
                }
            }
            None => {
                let page = PageRequest::from_query(request.query("limit"), request.query("cursor"))
                    .map_err(Error::Validation)?;
                let orders = self.orders.list_for_customer(customer, &page).await?;
                Ok(Reply::json(200, &orders))
            }
        }
    }
}
