//! `order-total`: `POST /orders/total`, the bill for a basket in exact money.

use std::sync::Arc;

use composition::{Adapters, App};
use domain::Error;
use domain::auth::Function;
use domain::bill::{Basket, quote};
use domain::ports::Catalog;
use http_kit::{ApiRequest, HttpFunction, Reply};
use settings::ConfigError;

pub struct OrderTotal {
    pub catalog: Arc<dyn Catalog>,
}

impl App for OrderTotal {
    const NAME: &'static str = "order-total";

    async fn new(adapters: &Adapters) -> Result<OrderTotal, ConfigError> {
        Ok(OrderTotal {
            catalog: adapters.catalog().await?,
        })
    }
}

impl HttpFunction for OrderTotal {
    const FUNCTION: Function = Function::OrderTotal;

    async fn handle(&self, request: ApiRequest) -> Result<Reply, Error> {
        let basket = request.json(Basket::from_json)?;
        let bill = quote(self.catalog.as_ref(), &basket).await?;
        Ok(Reply::json(200, &bill))
    }
}
