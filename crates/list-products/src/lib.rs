//! `list-products`: `GET /products` (paginated, optionally one company's) and
//! `GET /products/{id}` (with its `ETag`).

use std::sync::Arc;

use composition::{Adapters, App};
use domain::auth::Function;
use domain::ports::{Catalog, PageRequest};
use domain::{CompanyId, Error, ProductId};
use http_kit::{ApiRequest, HttpFunction, Reply};
use settings::ConfigError;

/// What the function needs.
pub struct ListProducts {
    pub catalog: Arc<dyn Catalog>,
}

impl App for ListProducts {
    const NAME: &'static str = "list-products";

    async fn new(adapters: &Adapters) -> Result<ListProducts, ConfigError> {
        Ok(ListProducts {
            catalog: adapters.catalog().await?,
        })
    }
}

impl HttpFunction for ListProducts {
    const FUNCTION: Function = Function::ListProducts;

    async fn handle(&self, request: ApiRequest) -> Result<Reply, Error> {
        match request.path_param("id") {
            Some(id) => self.get_one(id).await,
            None => self.list(&request).await,
        }
    }
}

impl ListProducts {
    async fn get_one(&self, id: &str) -> Result<Reply, Error> {
        let not_found = || Error::NotFound(format!("No product {id}"));
        // An id that cannot exist is simply not found.
        let id = ProductId::parse(id).map_err(|_| not_found())?;
        let product = self.catalog.get(&id).await?.ok_or_else(not_found)?;
        Ok(Reply::json(200, &product).etag(product.version))
    }

    async fn list(&self, request: &ApiRequest) -> Result<Reply, Error> {
        let page = PageRequest::from_query(request.query("limit"), request.query("cursor"));
        let company = request
            .query("company_id")
            .map(|c| CompanyId::parse(c).map_err(|e| Error::validation("company_id", e.0)))
            .transpose();
        let (page, company) = match (page, company) {
            (Ok(p), Ok(c)) => (p, c),
            (page, company) => {
                let mut errors = page.err().unwrap_or_default();
                if let Err(Error::Validation(e)) = company {
                    errors.extend(e);
                }
                return Err(Error::Validation(errors));
            }
        };
        let listed = self.catalog.list(company.as_ref(), &page).await?;
        Ok(Reply::json(200, &listed))
    }
}
