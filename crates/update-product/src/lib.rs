//! `update-product`: the company's catalog API, for the token's company only:
//! `PUT /products/{id}` (create 201 or replace 200) and `PATCH /products/{id}` (only the given
//! fields), with `If-Match` optimistic concurrency. Every write bumps `version`, returns the
//! new `ETag` and keeps its history entry (who, through which request, each field from what to
//! what) in the same transaction; `GET /products/{id}/history` pages through them, newest
//! first. (Bulk imports are `start-import`'s.)

use std::sync::Arc;

use chrono::Utc;
use composition::{Adapters, App};
use domain::auth::Function;
use domain::history::{Actor, Author, Via};
use domain::ports::{Catalog, PageRequest};
use domain::product::{Product, ProductDraft, ProductPatch, Write, plan_patch, plan_put};
use domain::{Error, PortError, ProductId};
use http_kit::{ApiRequest, HttpFunction, Reply};
use settings::ConfigError;

/// Attempts of a write without `If-Match` that keeps losing to concurrent writers.
const WRITE_ATTEMPTS: usize = 5;

pub struct UpdateProduct {
    pub catalog: Arc<dyn Catalog>,
}

impl App for UpdateProduct {
    const NAME: &'static str = "update-product";

    async fn new(adapters: &Adapters) -> Result<UpdateProduct, ConfigError> {
        Ok(UpdateProduct {
            catalog: adapters.catalog_keeping_history().await?,
        })
    }
}

/// The body of a write, validated.
enum Change {
    Put(ProductDraft),
    Patch(ProductPatch),
}

impl HttpFunction for UpdateProduct {
    const FUNCTION: Function = Function::UpdateProduct;

    async fn handle(&self, request: ApiRequest) -> Result<Reply, Error> {
        match request.route.method {
            "GET" => self.history(&request).await,
            _ => self.write_product(&request).await,
        }
    }
}

impl UpdateProduct {
    /// A page of the product's history, for its own company; anyone else learns nothing, not
    /// even that the product exists (404, as for a product that does not).
    async fn history(&self, request: &ApiRequest) -> Result<Reply, Error> {
        let company = request.principal.company()?;
        let id = request.path_param("id").unwrap_or_default();
        let id = ProductId::parse(id).map_err(|e| Error::validation("id", e.0))?;
        let page = PageRequest::from_query(request.query("limit"), request.query("cursor"))
            .map_err(Error::Validation)?;
        match self.catalog.get(&id).await? {
            Some(product) if &product.company_id == company => {
                Ok(Reply::json(200, &self.catalog.history(&id, &page).await?))
            }
            _ => Err(Error::NotFound(format!("No product {id}"))),
        }
    }

    async fn write_product(&self, request: &ApiRequest) -> Result<Reply, Error> {
        let company = request.principal.company()?;
        let id = request.path_param("id").unwrap_or_default();
        let id = ProductId::parse(id).map_err(|e| Error::validation("id", e.0))?;
        let expected = request.if_match()?;
        let change = match request.route.method {
            "PUT" => Change::Put(request.json(ProductDraft::from_json)?),
            _ => Change::Patch(request.json(ProductPatch::from_json)?),
        };
        let author = Author {
            by: Actor {
                sub: request.principal.sub.as_str().to_owned(),
                company_id: company.clone(),
            },
            via: Via::RequestId(request.request_id()),
        };
        let (product, write) = self.write(&id, &author, &change, expected).await?;
        Ok(match write {
            Write::Created => Reply::json(201, &product).location(&format!("/products/{id}")),
            Write::Replaced => Reply::json(200, &product),
        }
        .etag(product.version))
    }

    /// A write whose outcome is unknown (the store failed after it, or timed out) is resolved
    /// by reading the product back, never by writing it again.
    async fn read_back(
        &self,
        next: &Product,
        write: Write,
        error: String,
    ) -> Result<(Product, Write), Error> {
        // One writer per version (writes are conditional on it): the same version with the
        // same content is this write. (The store keeps time to the microsecond.)
        let ours = |stored: &Product| {
            let next = Product {
                updated_at: stored.updated_at,
                ..next.clone()
            };
            &next == stored
        };
        match self.catalog.get(&next.id).await {
            Ok(Some(stored)) if ours(&stored) => Ok((stored, write)),
            _ => Err(Error::Transient(error)),
        }
    }

    /// Read, plan (the domain's rules), conditional write. With `If-Match`, losing a race is
    /// 412; without it the write is retried against the new current version.
    async fn write(
        &self,
        id: &ProductId,
        author: &Author,
        change: &Change,
        expected: Option<u64>,
    ) -> Result<(Product, Write), Error> {
        let company = &author.by.company_id;
        for _ in 0..WRITE_ATTEMPTS {
            let current = self.catalog.get(id).await?;
            let now = Utc::now();
            let (next, write) = match change {
                Change::Put(draft) => {
                    plan_put(current.as_ref(), id, company, draft.clone(), expected, now)?
                }
                Change::Patch(patch) => (
                    plan_patch(current.as_ref(), company, patch.clone(), expected, now)?,
                    Write::Replaced,
                ),
            };
            match self
                .catalog
                .save_as(&next, current.as_ref().map(|c| c.version), author)
                .await
            {
                Ok(()) => return Ok((next, write)),
                Err(PortError::Conflict) if expected.is_some() => {
                    return Err(Error::PreconditionFailed(format!(
                        "Version {} is no longer current",
                        expected.unwrap_or_default()
                    )));
                }
                Err(PortError::Conflict) => continue,
                Err(PortError::Transient(e)) => return self.read_back(&next, write, e).await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Transient(format!(
            "product {id} keeps changing; retry"
        )))
    }
}
