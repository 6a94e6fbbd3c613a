//! Bulk catalog imports (ARCHITECTURE.md, "Bulk imports"): what a company asks for, the object key that carries its
//! company and import, the rows of a file (CSV or JSON lines) checked with the very rules of
//! `PUT /products/{id}`, and the report a company reads back.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::Error;
use crate::history::Actor;
use crate::ids::{CompanyId, InvalidId, ProductId};
use crate::product::{Product, ProductDraft, plan_put};
use crate::validation::{FieldError, FieldErrors, JsonObject, Presence};

/// The largest file an import takes: 50 MiB.
pub const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;
/// The most product rows a file may hold.
pub const MAX_ROWS: u64 = 100_000;
/// The longest line (JSON lines) or record (CSV) read as a row: a longer one is a refused row,
/// read past without being held, so a file's memory is bounded by this, not by its lines.
pub const MAX_ROW_BYTES: usize = 64 * 1024;
/// The row errors a report keeps (the first ones); the counts cover them all.
pub const MAX_REPORTED_ERRORS: usize = 1_000;
/// How long an upload URL is valid.
pub const UPLOAD_TTL: chrono::Duration = chrono::Duration::minutes(15);
/// How long a pending import waits, once its upload URL expired, for the event of an upload
/// made just in time (S3 sends it within seconds; the imports queue may hold it longer).
pub const UPLOAD_GRACE: chrono::Duration = chrono::Duration::minutes(15);
/// The failure reason of an import whose upload URL expired unused.
pub const UPLOAD_EXPIRED: &str = "upload_expired";
/// How many imports a company may have open at once: pending (its upload URL alive) or
/// running. Each holds an upload URL, a queue message and a function's run.
pub const MAX_OPEN_IMPORTS: usize = 5;
/// When a company at [`MAX_OPEN_IMPORTS`] may try again, in seconds.
pub const OPEN_IMPORTS_RETRY_AFTER: u64 = 30;
/// The longest row error message kept (a JSON parser's message can quote a long line).
const MAX_MESSAGE_CHARS: usize = 300;
/// The object keys of imports start with this prefix.
pub const KEY_PREFIX: &str = "imports/";

/// The columns of a CSV file, in their documented order.
pub const CSV_COLUMNS: [&str; 8] = [
    "id",
    "name",
    "description",
    "price_amount",
    "price_currency",
    "stock",
    "available",
    "stock_shards",
];
/// The columns a CSV header must have (the others default as in `PUT`).
const REQUIRED_COLUMNS: [&str; 5] = ["id", "name", "price_amount", "price_currency", "stock"];

/// An import's id: a random UUID, named in the object key and the report's URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ImportId(Uuid);

impl ImportId {
    pub fn random() -> ImportId {
        ImportId(Uuid::new_v4())
    }

    pub fn parse(s: &str) -> Result<ImportId, InvalidId> {
        match Uuid::try_parse(s) {
            Ok(u) if u.hyphenated().to_string() == s => Ok(ImportId(u)),
            _ => Err(InvalidId("must be an import id (a lower-case UUID)")),
        }
    }
}

impl fmt::Display for ImportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

impl Serialize for ImportId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ImportId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        ImportId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The format of an import's file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    /// A header line, then one product per record (RFC 4180; quoted fields may span lines).
    Csv,
    /// One JSON object per line: a `PUT /products/{id}` body with its `id`.
    Jsonl,
}

impl ImportFormat {
    pub const ALL: [ImportFormat; 2] = [ImportFormat::Csv, ImportFormat::Jsonl];

    pub fn as_str(self) -> &'static str {
        match self {
            ImportFormat::Csv => "csv",
            ImportFormat::Jsonl => "jsonl",
        }
    }

    pub fn parse(s: &str) -> Option<ImportFormat> {
        ImportFormat::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The `Content-Type` the upload is signed for.
    pub fn content_type(self) -> &'static str {
        match self {
            ImportFormat::Csv => "text/csv",
            ImportFormat::Jsonl => "application/x-ndjson",
        }
    }

    /// The validated body of `POST /imports`: `{"format": "csv" | "jsonl"}`.
    pub fn from_json(body: &Value) -> Result<ImportFormat, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let Some(obj) = JsonObject::root(body, &mut errors) else {
            return Err(errors.into_vec());
        };
        obj.deny_unknown(&["format"], &mut errors);
        let format = obj.string("format", Presence::Required, &mut errors);
        let format = format.and_then(|f| {
            ImportFormat::parse(f).or_else(|| {
                errors.add("format", "must be \"csv\" or \"jsonl\"");
                None
            })
        });
        errors.finish(|| format)
    }
}

/// The object key of an import's file: `imports/{company}/{import}.{csv|jsonl}`. The company
/// an import writes for is read from here, never from the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectKey {
    pub company: CompanyId,
    pub import: ImportId,
    pub format: ImportFormat,
}

impl ObjectKey {
    pub fn parse(key: &str) -> Option<ObjectKey> {
        let (company, file) = key.strip_prefix(KEY_PREFIX)?.split_once('/')?;
        let (import, extension) = file.split_once('.')?;
        Some(ObjectKey {
            company: CompanyId::parse(company).ok()?,
            import: ImportId::parse(import).ok()?,
            format: ImportFormat::parse(extension)?,
        })
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (company, import, format) = (&self.company, self.import, self.format.as_str());
        write!(f, "{KEY_PREFIX}{company}/{import}.{format}")
    }
}

/// Where an import stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportStatus {
    /// Created; its file is not uploaded (or not picked up) yet.
    Pending,
    Running,
    Done,
    /// The file as a whole was refused (`reason` says why).
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Pending => "pending",
            ImportStatus::Running => "running",
            ImportStatus::Done => "done",
            ImportStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ImportStatus> {
        [Self::Pending, Self::Running, Self::Done, Self::Failed]
            .into_iter()
            .find(|status| status.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, ImportStatus::Done | ImportStatus::Failed)
    }
}

/// The rows of a file: how many it has (once known), how many were written, how many refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowCounts {
    pub total: u64,
    pub written: u64,
    pub rejected: u64,
}

/// A refused row: its number (1 is the first product row; a CSV header is not a row), the
/// field (a CSV column, or a JSON path) and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub row: u64,
    pub field: String,
    pub message: String,
}

impl RowError {
    pub fn new(row: u64, error: FieldError) -> RowError {
        let mut message = error.message;
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        RowError {
            row,
            field: error.field,
            message,
        }
    }
}

/// An import, as stored and as reported (`GET /imports/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Import {
    #[serde(rename = "import_id")]
    pub id: ImportId,
    pub company_id: CompanyId,
    pub format: ImportFormat,
    pub status: ImportStatus,
    pub rows: RowCounts,
    /// The first [`MAX_REPORTED_ERRORS`] row errors, in row order.
    pub errors: Vec<RowError>,
    /// Why the file was refused, when `failed`.
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The checkpoint: rows before it are settled (written or refused), exactly once.
    #[serde(skip)]
    pub next_row: u64,
    /// The upload it reads, from its start on: a later upload to the same URL is not mixed in.
    #[serde(skip)]
    pub file: Option<FileVersion>,
    /// The `sub` of who started it: the rows' history entries name them. (`None` for an
    /// import recorded before it was kept.)
    #[serde(skip)]
    pub started_by: Option<String>,
}

/// Which upload under an import's key a file is: S3's `ETag`, and its version id when the
/// bucket keeps versions (then the upload stays readable after another replaces it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileVersion {
    pub e_tag: String,
    pub version_id: Option<String>,
}

impl FileVersion {
    /// Whether two readings are of the same upload (the same content: S3's `ETag`).
    pub fn same_upload(&self, other: &FileVersion) -> bool {
        self.e_tag == other.e_tag
    }
}

impl Import {
    /// Whether the import is pending past its upload URL's life and the grace after it: no
    /// upload came, and none will be read.
    pub fn upload_expired(&self, now: DateTime<Utc>) -> bool {
        self.status == ImportStatus::Pending && now > self.created_at + UPLOAD_TTL + UPLOAD_GRACE
    }

    /// A new import, waiting for its file.
    pub fn pending(company: CompanyId, format: ImportFormat, now: DateTime<Utc>) -> Import {
        Import {
            id: ImportId::random(),
            company_id: company,
            format,
            status: ImportStatus::Pending,
            rows: RowCounts::default(),
            errors: Vec::new(),
            reason: None,
            created_at: now,
            updated_at: now,
            next_row: 1,
            file: None,
            started_by: None,
        }
    }

    /// The import as started by the principal `sub`.
    pub fn started_by(self, sub: &str) -> Import {
        Import {
            started_by: Some(sub.to_owned()),
            ..self
        }
    }

    /// Who the rows' history entries name: the starter and the import's company.
    pub fn author(&self) -> Actor {
        Actor {
            sub: self
                .started_by
                .clone()
                .unwrap_or_else(|| "unrecorded".to_owned()),
            company_id: self.company_id.clone(),
        }
    }

    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            company: self.company_id.clone(),
            import: self.id,
            format: self.format,
        }
    }
}

/// Why a file as a whole is refused: the import's `reason`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is {0} bytes; the limit is {MAX_FILE_BYTES} bytes (50 MiB)")]
    TooLarge(u64),
    #[error("the file has more than {MAX_ROWS} rows")]
    TooManyRows,
    #[error("the file is not UTF-8 (at row {0}); save it as UTF-8 and upload it again")]
    NotUtf8(u64),
    #[error("the file is empty: a CSV file starts with its header line")]
    Empty,
    #[error("the header is longer than {MAX_ROW_BYTES} bytes")]
    HeaderTooLong,
    #[error("the header has no `{0}` column (columns: {columns})", columns = CSV_COLUMNS.join(","))]
    MissingColumn(&'static str),
    #[error("the header has an unknown column `{0}` (columns: {columns})", columns = CSV_COLUMNS.join(","))]
    UnknownColumn(String),
    #[error("the header names the column `{0}` twice")]
    DuplicateColumn(String),
    #[error("the file could not be read as {format}: {1}", format = .0.as_str())]
    Malformed(ImportFormat, String),
    #[error(
        "the file is not in the bucket any more (files are kept 7 days): upload it again with a new import"
    )]
    Gone,
    #[error(
        "the file was uploaded again while it was being imported; the rows reported were written from the first upload: start a new import for the new file"
    )]
    Replaced,
    /// The importer may not read the file (a permission or key the deployment lacks): retrying
    /// the same message cannot help, so the import fails instead of waiting in a DLQ.
    #[error(
        "the importer could not read the file (the service's fault, not the file's): start a new import later"
    )]
    Unreadable,
}

/// A row that passed the product rules: the product id and its `PUT` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductRow {
    pub row: u64,
    pub id: ProductId,
    pub draft: ProductDraft,
}

/// Where each column of a CSV file is, from its header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Columns {
    /// Index in the record of each of [`CSV_COLUMNS`], when present.
    at: [Option<usize>; CSV_COLUMNS.len()],
    width: usize,
}

/// The most of a file's own text a report quotes (a column's name): the report is stored in
/// one DynamoDB item (400 KB at most), and a header of any size must still fail its import
/// with a reason, never make the report too large to record.
pub const MAX_QUOTED_CHARS: usize = 200;

/// `text`, cut to [`MAX_QUOTED_CHARS`] characters (marked with `…` when cut).
fn quoted(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

impl Columns {
    pub fn from_header<'a>(
        header: impl IntoIterator<Item = &'a str>,
    ) -> Result<Columns, FileError> {
        let mut at = [None; CSV_COLUMNS.len()];
        let mut width = 0;
        for (index, name) in header.into_iter().enumerate() {
            width += 1;
            let name = name.trim();
            let Some(column) = CSV_COLUMNS.iter().position(|c| *c == name) else {
                return Err(FileError::UnknownColumn(quoted(name)));
            };
            if at[column].replace(index).is_some() {
                return Err(FileError::DuplicateColumn(name.to_owned()));
            }
        }
        if width == 0 {
            return Err(FileError::Empty);
        }
        for required in REQUIRED_COLUMNS {
            let column = CSV_COLUMNS.iter().position(|c| *c == required);
            if column.is_some_and(|c| at[c].is_none()) {
                return Err(FileError::MissingColumn(required));
            }
        }
        Ok(Columns { at, width })
    }

    fn cell<'r>(&self, record: &[&'r str], column: &str) -> Option<&'r str> {
        let column = CSV_COLUMNS.iter().position(|c| *c == column)?;
        self.at[column].and_then(|i| record.get(i).copied())
    }

    /// A CSV record as a product row, checked with the rules of `PUT /products/{id}`. Errors
    /// name the CSV column.
    pub fn row(&self, row: u64, record: &[&str]) -> Result<ProductRow, Vec<RowError>> {
        if record.len() != self.width {
            let message = format!("has {} fields; the header has {}", record.len(), self.width);
            return Err(vec![RowError::new(row, FieldError::new("row", message))]);
        }
        let cell = |column| self.cell(record, column);
        let mut body = Map::new();
        body.insert("name".into(), cell("name").unwrap_or_default().into());
        if let Some(description) = cell("description") {
            body.insert("description".into(), description.into());
        }
        let price = serde_json::json!({
            "amount": cell("price_amount").unwrap_or_default(),
            "currency": cell("price_currency").unwrap_or_default(),
        });
        body.insert("price".into(), price);
        body.insert(
            "stock".into(),
            csv_integer(cell("stock").unwrap_or_default()),
        );
        if let Some(available) = cell("available").filter(|a| !a.trim().is_empty()) {
            body.insert("available".into(), csv_boolean(available));
        }
        // An empty cell keeps the product's number of shards, as a `PUT` without the field.
        if let Some(shards) = cell("stock_shards").filter(|s| !s.trim().is_empty()) {
            body.insert("stock_shards".into(), csv_integer(shards));
        }
        let errors = |errors: Vec<FieldError>| {
            errors
                .into_iter()
                .map(|e| {
                    let field = e.field.replace("price.", "price_");
                    RowError::new(row, FieldError::new(field, e.message))
                })
                .collect()
        };
        product_row(
            row,
            cell("id").unwrap_or_default(),
            &Value::Object(body),
            errors,
        )
    }
}

/// A cell as a JSON integer when it is one, else as the text (which the rules then refuse).
fn csv_integer(cell: &str) -> Value {
    let trimmed = cell.trim();
    match trimmed.parse::<i64>() {
        Ok(n) if !trimmed.starts_with('+') => Value::from(n),
        _ => Value::from(cell),
    }
}

/// `true`/`false` (any case) as a JSON boolean, else the text (which the rules then refuse).
fn csv_boolean(cell: &str) -> Value {
    match cell.trim().to_ascii_lowercase().as_str() {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::from(cell),
    }
}

/// The id and the `PUT` body of a row, each checked; `errors` turns the body's field errors
/// into the row's.
fn product_row(
    row: u64,
    id: &str,
    body: &Value,
    errors: impl FnOnce(Vec<FieldError>) -> Vec<RowError>,
) -> Result<ProductRow, Vec<RowError>> {
    let id = ProductId::parse(id).map_err(|e| FieldError::new("id", e.0));
    match (id, ProductDraft::from_json(body)) {
        (Ok(id), Ok(draft)) => Ok(ProductRow { row, id, draft }),
        (id, draft) => {
            let mut all = id
                .err()
                .map(|e| vec![RowError::new(row, e)])
                .unwrap_or_default();
            all.extend(draft.err().map(errors).unwrap_or_default());
            Err(all)
        }
    }
}

/// A JSON line as a product row: a `PUT /products/{id}` body with its `id`. Errors name the
/// JSON path.
pub fn json_row(row: u64, line: &str) -> Result<ProductRow, Vec<RowError>> {
    let refuse =
        |field: &str, message: String| vec![RowError::new(row, FieldError::new(field, message))];
    let mut value: Value =
        serde_json::from_str(line).map_err(|e| refuse("row", format!("is not JSON: {e}")))?;
    let Some(object) = value.as_object_mut() else {
        return Err(refuse("row", "must be a JSON object".to_owned()));
    };
    let id = match object.remove("id") {
        Some(Value::String(id)) => id,
        Some(_) => return Err(refuse("id", "must be a string".to_owned())),
        None => return Err(refuse("id", "is required".to_owned())),
    };
    product_row(row, &id, &value, |errors| {
        errors.into_iter().map(|e| RowError::new(row, e)).collect()
    })
}

/// The product an import row writes: a `PUT` without `If-Match`, for the key's company. A
/// product of another company is refused (field `id`), as the API refuses it with a 403.
pub fn plan_row(
    current: Option<&Product>,
    row: &ProductRow,
    company: &CompanyId,
    now: DateTime<Utc>,
) -> Result<Product, RowError> {
    match plan_put(current, &row.id, company, row.draft.clone(), None, now) {
        Ok((product, _)) => Ok(product),
        Err(Error::Forbidden(_)) => Err(RowError::new(
            row.row,
            FieldError::new("id", "is a product of another company"),
        )),
        Err(e) => Err(RowError::new(
            row.row,
            FieldError::new("row", e.to_string()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limits as the API's document and the README promise them, in bytes: the readers in
    /// `import-catalog` test behaviour at each; this pins the figures themselves.
    #[test]
    fn the_promised_limits() {
        assert_eq!(MAX_REPORTED_ERRORS, 1_000);
    }

    #[test]
    fn statuses_and_formats_by_their_wire_names() {
        for (status, name, last) in [
            (ImportStatus::Pending, "pending", false),
            (ImportStatus::Running, "running", false),
            (ImportStatus::Done, "done", true),
            (ImportStatus::Failed, "failed", true),
        ] {
            assert_eq!(status.as_str(), name);
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                name,
                "as serde writes it"
            );
            assert_eq!(ImportStatus::parse(name), Some(status));
            assert_eq!(status.is_final(), last, "{name}");
        }
        assert_eq!(ImportStatus::parse("Done"), None);
        assert_eq!(ImportFormat::Csv.content_type(), "text/csv");
        assert_eq!(ImportFormat::Jsonl.content_type(), "application/x-ndjson");
    }

    #[test]
    fn an_upload_is_waited_for_its_url_lifetime_and_the_grace_after_it() {
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let import = Import::pending(CompanyId::parse("acme").unwrap(), ImportFormat::Csv, t0);
        let last_moment = t0 + chrono::Duration::minutes(30);
        assert!(!import.upload_expired(t0));
        assert!(
            !import.upload_expired(last_moment),
            "exactly the TTL and the grace"
        );
        assert!(import.upload_expired(last_moment + chrono::Duration::seconds(1)));
        let running = Import {
            status: ImportStatus::Running,
            ..import
        };
        assert!(!running.upload_expired(last_moment + chrono::Duration::days(1)));
    }

    /// The rows' history entries name who started the import, and say so when it was not kept.
    #[test]
    fn an_import_s_author_is_who_started_it() {
        let acme = CompanyId::parse("acme").unwrap();
        let now = Utc::now();
        let started = Import::pending(acme.clone(), ImportFormat::Csv, now).started_by("alice");
        assert_eq!(started.started_by.as_deref(), Some("alice"));
        assert_eq!(
            started.author(),
            Actor {
                sub: "alice".to_owned(),
                company_id: acme.clone()
            }
        );
        let unknown = Import::pending(acme, ImportFormat::Csv, now);
        assert_eq!(unknown.author().sub, "unrecorded");
    }

    #[test]
    fn the_same_upload_is_the_same_content() {
        let version = |e_tag: &str, id: Option<&str>| FileVersion {
            e_tag: e_tag.into(),
            version_id: id.map(str::to_owned),
        };
        assert!(version("\"a\"", Some("1")).same_upload(&version("\"a\"", Some("2"))));
        assert!(!version("\"a\"", Some("1")).same_upload(&version("\"b\"", Some("1"))));
    }

    #[test]
    fn csv_cells_become_json_only_when_they_are_exactly_that() {
        assert_eq!(csv_integer(" 5 "), serde_json::json!(5));
        assert_eq!(
            csv_integer("+5"),
            serde_json::json!("+5"),
            "a sign JSON would refuse"
        );
        assert_eq!(csv_integer("5.0"), serde_json::json!("5.0"));
        assert_eq!(csv_boolean(" TRUE "), serde_json::json!(true));
        assert_eq!(csv_boolean("false"), serde_json::json!(false));
        assert_eq!(csv_boolean("yes"), serde_json::json!("yes"));
    }

    #[test]
    fn import_ids_are_lower_case_uuids() {
        let id = ImportId::random();
        let text = id.to_string();
        assert_eq!(ImportId::parse(&text).unwrap(), id);
        assert!(ImportId::parse(&text.to_ascii_uppercase()).is_err());
        assert!(
            ImportId::parse(&text.replace('-', "")).is_err(),
            "hyphenated only"
        );
        assert!(ImportId::parse("not-an-id").is_err());
        assert_eq!(MAX_FILE_BYTES, 52_428_800, "50 MiB");
        assert_eq!(MAX_ROW_BYTES, 65_536, "64 KiB");
        assert_eq!(MAX_ROWS, 100_000);
        assert_eq!(UPLOAD_TTL.num_seconds(), 900);
    }

    fn columns(header: &str) -> Result<Columns, FileError> {
        Columns::from_header(header.split(','))
    }

    #[test]
    fn object_keys_carry_company_import_and_format() {
        let key = ObjectKey {
            company: CompanyId::parse("acme").unwrap(),
            import: ImportId::random(),
            format: ImportFormat::Jsonl,
        };
        let text = key.to_string();
        assert!(text.starts_with("imports/acme/") && text.ends_with(".jsonl"));
        assert_eq!(ObjectKey::parse(&text), Some(key));
        for bad in [
            "imports/acme/not-a-uuid.csv",
            "imports/ac me/3f2b7c1e-8d4a-4c57-9a3c-6f0e8d21b7c4.csv",
            "imports/acme/3f2b7c1e-8d4a-4c57-9a3c-6f0e8d21b7c4.xlsx",
            "other/acme/3f2b7c1e-8d4a-4c57-9a3c-6f0e8d21b7c4.csv",
            "imports/acme/x/3f2b7c1e-8d4a-4c57-9a3c-6f0e8d21b7c4.csv",
        ] {
            assert_eq!(ObjectKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_request_names_a_format() {
        assert_eq!(
            ImportFormat::from_json(&serde_json::json!({"format": "csv"})),
            Ok(ImportFormat::Csv)
        );
        for bad in [
            serde_json::json!({"format": "xlsx"}),
            serde_json::json!({}),
            serde_json::json!({"format": "csv", "x": 1}),
        ] {
            assert!(ImportFormat::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_need_the_required_columns_and_nothing_unknown() {
        assert!(columns("id,name,price_amount,price_currency,stock").is_ok());
        assert_eq!(
            columns("id,name,price_amount,stock"),
            Err(FileError::MissingColumn("price_currency"))
        );
        assert_eq!(
            columns("id,name,price,price_currency,stock"),
            Err(FileError::UnknownColumn("price".into()))
        );
        assert_eq!(
            columns("id,id,name,price_amount,price_currency,stock"),
            Err(FileError::DuplicateColumn("id".into()))
        );
    }

    #[test]
    fn a_huge_unknown_column_is_quoted_short_so_its_import_can_fail_with_a_reason() {
        let huge = "é".repeat(500_000);
        let Err(FileError::UnknownColumn(name)) = columns(&format!("id,{huge},name")) else {
            panic!("an unknown column");
        };
        assert_eq!(name.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(name.ends_with('…'));
        let reason = FileError::UnknownColumn(name).to_string();
        assert!(reason.len() < 1024, "{} bytes", reason.len());
        // At the limit, a name is quoted whole; one character more, and it is cut.
        let at = "x".repeat(MAX_QUOTED_CHARS);
        assert_eq!(
            columns(&format!("id,{at}")),
            Err(FileError::UnknownColumn(at.clone()))
        );
        let over = format!("{at}y");
        assert_eq!(
            columns(&format!("id,{over}")),
            Err(FileError::UnknownColumn(format!("{at}…")))
        );
    }

    #[test]
    fn csv_rows_follow_the_product_rules_and_name_their_columns() {
        let columns = columns(&CSV_COLUMNS.join(",")).unwrap();
        let row = columns
            .row(1, &["p1", "Tea", "", "4.50", "EUR", "12", "FALSE", "8"])
            .unwrap();
        assert_eq!(row.id.as_str(), "p1");
        assert_eq!((row.draft.stock, row.draft.available), (12, false));
        assert_eq!(row.draft.stock_shards, Some(8));
        let kept = columns
            .row(1, &["p1", "Tea", "", "4.50", "EUR", "12", "", " "])
            .unwrap();
        assert_eq!(
            kept.draft.stock_shards, None,
            "an empty cell keeps the count"
        );
        let errors = columns
            .row(7, &["bad id", "", "", "4.5", "XXX", "-1", "maybe", "33"])
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "id",
                "name",
                "price_currency",
                "stock",
                "available",
                "stock_shards"
            ]
        );
        assert!(errors.iter().all(|e| e.row == 7));
        let short = columns.row(2, &["p1", "Tea"]).unwrap_err();
        assert_eq!(short[0].field, "row");
    }

    #[test]
    fn json_rows_are_put_bodies_with_an_id() {
        let line =
            r#"{"id":"p1","name":"Tea","price":{"amount":"4.50","currency":"EUR"},"stock":3}"#;
        assert_eq!(json_row(1, line).unwrap().draft.stock, 3);
        assert_eq!(json_row(2, "{not json").unwrap_err()[0].field, "row");
        assert_eq!(json_row(3, "[1]").unwrap_err()[0].field, "row");
        assert_eq!(json_row(4, r#"{"name":"x"}"#).unwrap_err()[0].field, "id");
        let errors = json_row(
            5,
            r#"{"id":"p1","name":"","price":{"amount":"1","currency":"EUR"},"stock":1,"x":1}"#,
        )
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["x", "name", "price.amount"]);
    }

    #[test]
    fn another_companys_product_is_refused_per_row() {
        let now = Utc::now();
        let mine = CompanyId::parse("acme").unwrap();
        let theirs = CompanyId::parse("globex").unwrap();
        let line =
            r#"{"id":"p1","name":"Tea","price":{"amount":"4.50","currency":"EUR"},"stock":3}"#;
        let row = json_row(9, line).unwrap();
        let (existing, _) = plan_put(None, &row.id, &theirs, row.draft.clone(), None, now).unwrap();
        let refused = plan_row(Some(&existing), &row, &mine, now).unwrap_err();
        assert_eq!((refused.row, refused.field.as_str()), (9, "id"));
        let written = plan_row(None, &row, &mine, now).unwrap();
        assert_eq!((written.version, written.company_id), (1, mine));
    }

    #[test]
    fn long_messages_are_cut() {
        let error = RowError::new(1, FieldError::new("row", "x".repeat(5000)));
        assert_eq!(error.message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
