//! `update-product`: `PUT /products/{id}` (create 201 or replace 200) and
//! `PATCH /products/{id}` (only the given fields), for the token's company only, with
//! `If-Match` optimistic concurrency. Every write bumps `version` and returns the new `ETag`.

use std::sync::Arc;

use chrono::Utc;
use domain::auth::Scope;
use domain::ports::Catalog;
use domain::product::{Product, ProductDraft, ProductPatch, etag, plan_patch, plan_put};
use domain::{CompanyId, Error, PortError, ProductId};
use http::HeaderValue;
use http_kit::{Cors, if_match, json_body, json_response, path_param, principal};
use lambda_http::{Body, Request, Response};

/// Attempts of a write without `If-Match` that keeps losing to concurrent writers.
const WRITE_ATTEMPTS: usize = 5;

pub struct UpdateProduct {
    pub catalog: Arc<dyn Catalog>,
    pub cors: Cors,
}

pub async fn handler(app: &UpdateProduct, req: Request) -> Response<Body> {
    http_kit::respond(&app.cors, req, |req| handle(app, req)).await
}

/// The body of a write, validated.
enum Change {
    Put(ProductDraft),
    Patch(ProductPatch),
}

async fn handle(app: &UpdateProduct, req: Request) -> Result<Response<Body>, Error> {
    let principal = principal(&req)?;
    principal.require(Scope::ProductsWrite)?;
    let company = principal.company()?;
    let id = path_param(&req, "id").unwrap_or_default();
    let id = ProductId::parse(&id).map_err(|e| Error::validation("id", e.0))?;
    let expected = if_match(&req)?;
    let body = json_body(&req)?;
    let change = match *req.method() {
        http::Method::PUT => {
            Change::Put(ProductDraft::from_json(&body).map_err(Error::Validation)?)
        }
        http::Method::PATCH => {
            Change::Patch(ProductPatch::from_json(&body).map_err(Error::Validation)?)
        }
        _ => {
            return Err(Error::MethodNotAllowed {
                allowed: vec!["PUT", "PATCH"],
            });
        }
    };
    let (product, created) = write(app, &id, company, &change, expected).await?;
    let status = if created { 201 } else { 200 };
    let mut response = json_response(status, &product);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag(product.version)) {
        headers.insert(http::header::ETAG, v);
    }
    if created && let Ok(v) = HeaderValue::from_str(&format!("/products/{id}")) {
        headers.insert(http::header::LOCATION, v);
    }
    Ok(response)
}

/// Read, plan (the domain's rules), conditional write. With `If-Match`, losing a race is 412;
/// without it the write is retried against the new current version.
async fn write(
    app: &UpdateProduct,
    id: &ProductId,
    company: &CompanyId,
    change: &Change,
    expected: Option<u64>,
) -> Result<(Product, bool), Error> {
    for _ in 0..WRITE_ATTEMPTS {
        let current = app.catalog.get(id).await?;
        let now = Utc::now();
        let (next, created) = match change {
            Change::Put(draft) => {
                plan_put(current.as_ref(), id, company, draft.clone(), expected, now)?
            }
            Change::Patch(patch) => (
                plan_patch(current.as_ref(), company, patch.clone(), expected, now)?,
                false,
            ),
        };
        match app
            .catalog
            .save(&next, current.as_ref().map(|c| c.version))
            .await
        {
            Ok(()) => return Ok((next, created)),
            Err(PortError::Conflict) if expected.is_some() => {
                return Err(Error::PreconditionFailed(format!(
                    "Version {} is no longer current",
                    expected.unwrap_or_default()
                )));
            }
            Err(PortError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Transient(format!(
        "product {id} keeps changing; retry"
    )))
}
