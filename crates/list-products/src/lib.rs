//! `list-products`: `GET /products` (paginated, optionally one company's) and
//! `GET /products/{id}` (with its `ETag`).

use std::sync::Arc;

use domain::auth::Scope;
use domain::ports::{Catalog, PageRequest};
use domain::product::etag;
use domain::{CompanyId, Error, ProductId};
use http::HeaderValue;
use http_kit::{Cors, json_response, path_param, principal, query_param};
use lambda_http::{Body, Request, Response};

/// What the function needs.
pub struct ListProducts {
    pub catalog: Arc<dyn Catalog>,
    pub cors: Cors,
}

/// The handler, as Lambda and `delivery-local` call it.
pub async fn handler(app: &ListProducts, req: Request) -> Response<Body> {
    http_kit::respond(&app.cors, req, |req| handle(app, req)).await
}

async fn handle(app: &ListProducts, req: Request) -> Result<Response<Body>, Error> {
    principal(&req)?.require(Scope::ProductsRead)?;
    if req.method() != http::Method::GET {
        return Err(Error::MethodNotAllowed {
            allowed: vec!["GET"],
        });
    }
    match path_param(&req, "id") {
        Some(id) => get_one(app, &id).await,
        None => list(app, &req).await,
    }
}

async fn get_one(app: &ListProducts, id: &str) -> Result<Response<Body>, Error> {
    let not_found = || Error::NotFound(format!("No product {id}"));
    // An id that cannot exist is simply not found.
    let id = ProductId::parse(id).map_err(|_| not_found())?;
    let product = app.catalog.get(&id).await?.ok_or_else(not_found)?;
    let mut response = json_response(200, &product);
    if let Ok(v) = HeaderValue::from_str(&etag(product.version)) {
        response.headers_mut().insert(http::header::ETAG, v);
    }
    Ok(response)
}

async fn list(app: &ListProducts, req: &Request) -> Result<Response<Body>, Error> {
    let page = PageRequest::from_query(
        query_param(req, "limit").as_deref(),
        query_param(req, "cursor").as_deref(),
    );
    let company = query_param(req, "company_id")
        .map(|c| CompanyId::parse(&c).map_err(|e| Error::validation("company_id", e.0)))
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
    let listed = app.catalog.list(company.as_ref(), &page).await?;
    Ok(json_response(200, &listed))
}
