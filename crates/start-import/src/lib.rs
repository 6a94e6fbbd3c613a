//! `start-import`: a company's bulk catalog imports, for the token's company only.
//! - `POST /imports`: a new import and a presigned upload URL for its file, valid 15 minutes;
//!   `import-catalog` takes the file from there. A company has at most five imports open at
//!   once (429 past them).
//! - `GET /imports/{id}`: its report (another company's import is a 404). A pending import
//!   whose URL expired unused is failed, `upload_expired`, when it is next looked at.

use std::sync::Arc;

use chrono::Utc;
use composition::{Adapters, App};
use domain::auth::Function;
use domain::import::{
    Import, ImportFormat, ImportId, ImportStatus, MAX_OPEN_IMPORTS, OPEN_IMPORTS_RETRY_AFTER,
    UPLOAD_EXPIRED, UPLOAD_TTL,
};
use domain::ports::{ImportFiles, Imports};
use domain::{CompanyId, Error};
use http_kit::{ApiRequest, HttpFunction, Reply};
use settings::ConfigError;

pub struct StartImport {
    pub imports: Arc<dyn Imports>,
    pub files: Arc<dyn ImportFiles>,
}

impl App for StartImport {
    const NAME: &'static str = "start-import";

    async fn new(adapters: &Adapters) -> Result<StartImport, ConfigError> {
        Ok(StartImport {
            imports: adapters.imports().await?,
            files: adapters.import_files().await?,
        })
    }
}

impl HttpFunction for StartImport {
    const FUNCTION: Function = Function::StartImport;

    async fn handle(&self, request: ApiRequest) -> Result<Reply, Error> {
        match request.route.method {
            "POST" => self.start_import(&request).await,
            _ => self.report(&request).await,
        }
    }
}

impl StartImport {
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
        let import = Import::pending(company.clone(), format, now)
            .started_by(request.principal.sub.as_str());
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
}
