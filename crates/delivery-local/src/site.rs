//! The web page (the top-level `web/` folder), compiled into the binary and served at `/` on the
//! API's own origin, with the security headers the deployed CloudFront adds; and the API's
//! document at `/openapi.json` with its reference page at `/docs` (a vendored renderer, so it
//! works offline).

use http::{HeaderValue, StatusCode, header};

const INDEX: &str = include_str!("../../../web/index.html");
const APP_JS: &str = include_str!("../../../web/app.js");
const APP_CSS: &str = include_str!("../../../web/app.css");
const CONSOLE_JS: &str = include_str!("../../../web/console.js");
const IMPORTS_JS: &str = include_str!("../../../web/imports.js");
const SIGNIN_JS: &str = include_str!("../../../web/signin.js");
const DOM_JS: &str = include_str!("../../../web/dom.js");
const API_JS: &str = include_str!("../../../web/api.js");
const UPLOT_JS: &str = include_str!("../../../web/vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../../web/vendor/uPlot.min.css");
const DOCS: &str = include_str!("../../../web/docs.html");
const RAPIDOC: &str = include_str!("../../../web/vendor/rapidoc-min.js");
/// The committed document, which `api-contract`'s test proves is the one the code builds.
const OPENAPI: &str = include_str!("../../../openapi.json");
/// Locally the API is this origin, and the demo principals' tokens are offered.
const CONFIG: &str = r#"{"apiBaseUrl": "", "local": true}"#;

/// Scripts and styles only from the page's own files, no inline code, no framing: even a
/// product name that slipped into the page as HTML could not run.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The API reference page's policy: RapiDoc styles its components inline, so styles may be
/// inline there; scripts are still only the page's own, and it shows only the API's document.
const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'none'; \
     base-uri 'none'; frame-ancestors 'none'";

/// The page's file at `path`, if it is one: content type and body.
fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    Some(match path {
        "/" | "/index.html" => ("text/html; charset=utf-8", INDEX),
        "/app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "/app.css" => ("text/css; charset=utf-8", APP_CSS),
        "/console.js" => ("text/javascript; charset=utf-8", CONSOLE_JS),
        "/imports.js" => ("text/javascript; charset=utf-8", IMPORTS_JS),
        "/signin.js" => ("text/javascript; charset=utf-8", SIGNIN_JS),
        "/dom.js" => ("text/javascript; charset=utf-8", DOM_JS),
        "/api.js" => ("text/javascript; charset=utf-8", API_JS),
        "/vendor/uPlot.iife.min.js" => ("text/javascript; charset=utf-8", UPLOT_JS),
        "/vendor/uPlot.min.css" => ("text/css; charset=utf-8", UPLOT_CSS),
        "/config.json" => ("application/json", CONFIG),
        "/openapi.json" => ("application/json", OPENAPI),
        "/docs" => ("text/html; charset=utf-8", DOCS),
        "/vendor/rapidoc-min.js" => ("text/javascript; charset=utf-8", RAPIDOC),
        _ => return None,
    })
}

/// The response for a page file, or `None` when `path` is not one.
pub fn serve(path: &str) -> Option<axum::response::Response> {
    let (content_type, body) = asset(path)?;
    let mut response = axum::response::Response::new(axum::body::Body::from(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let policy = match path {
        "/docs" => DOCS_CONTENT_SECURITY_POLICY,
        _ => CONTENT_SECURITY_POLICY,
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_files_are_served_with_their_types() {
        for (path, kind) in [
            ("/", "text/html"),
            ("/index.html", "text/html"),
            ("/app.js", "text/javascript"),
            ("/app.css", "text/css"),
            ("/config.json", "application/json"),
            ("/openapi.json", "application/json"),
            ("/docs", "text/html"),
            ("/vendor/rapidoc-min.js", "text/javascript"),
        ] {
            let response = serve(path).unwrap();
            let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
            assert!(content_type.starts_with(kind), "{path}: {content_type}");
            assert!(
                response
                    .headers()
                    .contains_key(header::CONTENT_SECURITY_POLICY)
            );
        }
        assert!(serve("/products").is_none());
        assert!(serve("/app.js.map").is_none());
    }

    /// The `(METHOD, resource)` of every `api("METHOD", path…)` call of the page, with each
    /// `${…}` path segment read as the route's `{id}`.
    fn page_calls() -> Vec<(String, String)> {
        [APP_JS, IMPORTS_JS, CONSOLE_JS]
            .iter()
            .flat_map(|script| script.split("api(\"").skip(1))
            .filter_map(|call| {
                let (method, rest) = call.split_once('"')?;
                let path = rest.trim_start_matches([',', ' ']).get(1..)?;
                let end = path.find(['?', '`', '"']).unwrap_or(path.len());
                let resource = path[..end]
                    .split('/')
                    .map(|s| if s.starts_with("${") { "{id}" } else { s })
                    .collect::<Vec<_>>()
                    .join("/");
                Some((method.to_owned(), resource))
            })
            .collect()
    }

    #[test]
    fn the_page_calls_only_what_the_document_describes() {
        let document = api_contract::document();
        let calls = page_calls();
        assert!(calls.len() >= 5, "{calls:?}");
        for (method, resource) in calls {
            let operation = &document["paths"][&resource][method.to_ascii_lowercase()];
            assert!(operation.is_object(), "the page calls {method} {resource}");
        }
        // The query parameters and request headers it sends are the documented ones.
        let documented = |name: &str| {
            document
                .to_string()
                .contains(&format!("\"name\":\"{name}\""))
        };
        for name in [
            "limit",
            "cursor",
            "company_id",
            "If-Match",
            "Idempotency-Key",
        ] {
            assert!(APP_JS.contains(name), "{name}");
            assert!(documented(name), "{name} is documented");
        }
    }

    #[test]
    fn the_served_document_is_the_one_the_code_builds() {
        let served: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(served, api_contract::document());
    }

    #[test]
    fn the_page_builds_no_html_from_strings() {
        // Untrusted data must reach the page as text: no innerHTML, outerHTML,
        // insertAdjacentHTML or document.write anywhere in the script.
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
        ] {
            assert!(!APP_JS.contains(sink), "app.js uses {sink}");
            assert!(!CONSOLE_JS.contains(sink), "console.js uses {sink}");
            assert!(!IMPORTS_JS.contains(sink), "imports.js uses {sink}");
            assert!(!SIGNIN_JS.contains(sink), "signin.js uses {sink}");
            assert!(!DOM_JS.contains(sink), "dom.js uses {sink}");
            assert!(!API_JS.contains(sink), "api.js uses {sink}");
        }
    }

    /// What `scripts/publish-page` uploads is what the page is made of here: a module added to
    /// the page and served locally but not published would break the deployed page only.
    #[test]
    fn the_published_files_are_the_served_ones() {
        let script = include_str!("../../../scripts/publish-page");
        let line = script
            .lines()
            .find(|l| l.starts_with("for file in "))
            .unwrap();
        let mut published: Vec<String> = line["for file in ".len()..]
            .trim_end_matches("; do")
            .split_whitespace()
            .map(|f| format!("/{f}"))
            .collect();
        published.sort();
        let mut served: Vec<String> = [
            "/index.html",
            "/app.js",
            "/app.css",
            "/console.js",
            "/imports.js",
            "/signin.js",
            "/dom.js",
            "/api.js",
            "/vendor/uPlot.iife.min.js",
            "/vendor/uPlot.min.css",
        ]
        .iter()
        .map(|p| (*p).to_owned())
        .collect();
        served.sort();
        assert_eq!(published, served);
        for path in &served {
            assert!(asset(path).is_some(), "{path} is served");
        }
        // Every module the page imports is one of them.
        for script in [APP_JS, CONSOLE_JS, IMPORTS_JS, DOM_JS, API_JS] {
            for import in script.split("from \"./").skip(1) {
                let file = format!("/{}", import.split('"').next().unwrap());
                assert!(
                    served.contains(&file),
                    "{file} is imported but not published"
                );
            }
        }
    }
}
