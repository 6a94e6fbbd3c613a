//! `update-product`: the company's catalog API, for the token's company only.
//! - `PUT /products/{id}` (create 201 or replace 200) and `PATCH /products/{id}` (only the
//!   given fields), with `If-Match` optimistic concurrency. Every write bumps `version` and
//!   returns the new `ETag`.
//! - `POST /imports`: a new import and a presigned upload URL for its file, valid
//!   15 minutes; `import-catalog` takes the file from there. A company has at most five imports
//!   open at once (429 past them). `GET /imports/{id}`: its report (another company's import
//!   is a 404). A pending import whose URL expired unused is failed, `upload_expired`, when it
//!   is next looked at.

use std::sync::Arc;

use chrono::Utc;
use composition::{Adapters, App};
use domain::auth::Function;
use domain::import::{
    Import, ImportFormat, ImportId, ImportStatus, MAX_OPEN_IMPORTS, OPEN_IMPORTS_RETRY_AFTER,
    UPLOAD_EXPIRED, UPLOAD_TTL,
};
use domain::ports::{Catalog, ImportFiles, Imports};
use domain::product::{Product, ProductDraft, ProductPatch, Write, plan_patch, plan_put};
use domain::{CompanyId, Error, PortError, ProductId};
use http_kit::{ApiRequest, HttpFunction, Reply};
use settings::ConfigError;

/// Attempts of a write without `If-Match` that keeps losing to concurrent writers.
const WRITE_ATTEMPTS: usize = 5;

pub struct UpdateProduct {
    pub catalog: Arc<dyn Catalog>,
    pub imports: Arc<dyn Imports>,
    pub files: Arc<dyn ImportFiles>,
}

impl App for UpdateProduct {
    const NAME: &'static str = "update-product";

    async fn new(adapters: &Adapters) -> Result<UpdateProduct, ConfigError> {
        Ok(UpdateProduct {
            catalog: adapters.catalog().await?,
            imports: adapters.imports().await?,
            files: adapters.import_files().await?,
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
        match (request.route.method, request.route.resource) {
            ("POST", "/imports") => self.start_import(&request).await,
            ("GET", "/imports/{id}") => self.report(&request).await,
            _ => self.write_product(&request).await,
        }
    }
}

impl UpdateProduct {
    async fn write_product(&self, request: &ApiRequest) -> Result<Reply, Error> {
        let company = request.principal.company()?;
        let id = request.path_param("id").unwrap_or_default();
        let id = ProductId::parse(id).map_err(|e| Error::validation("id", e.0))?;
        let expected = request.if_match()?;
        let change = match request.route.method {
            "PUT" => Change::Put(request.json(ProductDraft::from_json)?),
            _ => Change::Patch(request.json(ProductPatch::from_json)?),
        };
        let (product, write) = self.write(&id, company, &change, expected).await?;
        Ok(match write {
            Write::Created => Reply::json(201, &product).location(&format!("/products/{id}")),
            Write::Replaced => Reply::json(200, &product),
        }
        .etag(product.version))
    }

    /// `POST /imports`: the import, pending, and where to upload its file.
    async fn start_import(&self, request: &ApiRequest) -> Result<Reply, Error> {
        let company = request.principal.company()?;
        let format = request.json(ImportFormat::from_json)?;
        let now = Utc::now();
        let open = self.open_imports(company, now).await?;
        if open >= MAX_OPEN_IMPORTS {
            return Err(Error::TooManyRequests {
                detail: format!(
                    "{open} imports of {company} are open (pending or running); at most {MAX_OPEN_IMPORTS} at once: retry once one has finished"
                ),
                retry_after: OPEN_IMPORTS_RETRY_AFTER,
            });
        }
        let import = Import::pending(company.clone(), format, now);
        self.imports.create(&import).await?;
        let upload = self
            .files
            .upload_url(&import.key(), format.content_type(), now + UPLOAD_TTL)
            .await?;
        let body = serde_json::json!({
            "import_id": import.id,
            "status": import.status,
            "format": format,
            "upload": upload,
        });
        Ok(Reply::json(201, &body).location(&format!("/imports/{}", import.id)))
    }

    /// `GET /imports/{id}`: the report of one of the company's imports.
    async fn report(&self, request: &ApiRequest) -> Result<Reply, Error> {
        let company = request.principal.company()?;
        let id = request.path_param("id").unwrap_or_default();
        let id = ImportId::parse(id).map_err(|e| Error::validation("id", e.0))?;
        match self.imports.get(id).await? {
            Some(import) if &import.company_id == company => {
                let import = self.expire_unused(import, Utc::now()).await?;
                Ok(Reply::json(200, &import))
            }
            _ => Err(Error::NotFound(format!("No import {id}"))),
        }
    }

    /// The company's open imports, those whose upload URL expired unused failed on the way
    /// (they count for nothing).
    async fn open_imports(
        &self,
        company: &CompanyId,
        now: chrono::DateTime<Utc>,
    ) -> Result<usize, Error> {
        let mut open = 0;
        for import in self.imports.open(company).await? {
            if !self.expire_unused(import, now).await?.status.is_final() {
                open += 1;
            }
        }
        Ok(open)
    }

    /// `import` failed with reason `upload_expired` if it is pending past its upload URL and
    /// the grace after it; otherwise as it is.
    async fn expire_unused(
        &self,
        mut import: Import,
        now: chrono::DateTime<Utc>,
    ) -> Result<Import, Error> {
        if !import.upload_expired(now) {
            return Ok(import);
        }
        self.imports.expire(import.id, UPLOAD_EXPIRED, now).await?;
        // Read back: an upload's event may have started it just now, which the expiry left.
        Ok(match self.imports.get(import.id).await? {
            Some(stored) => stored,
            None => {
                import.status = ImportStatus::Failed;
                import.reason = Some(UPLOAD_EXPIRED.to_owned());
                import
            }
        })
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
        company: &CompanyId,
        change: &Change,
        expected: Option<u64>,
    ) -> Result<(Product, Write), Error> {
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
                .save(&next, current.as_ref().map(|c| c.version))
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
