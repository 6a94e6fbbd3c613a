//! The web page (the top-level `web/` folder), compiled into the binary and served at `/` on the
//! API's own origin, with the security headers the deployed CloudFront adds.

use http::{HeaderValue, StatusCode, header};

const INDEX: &str = include_str!("../../../web/index.html");
const APP_JS: &str = include_str!("../../../web/app.js");
const APP_CSS: &str = include_str!("../../../web/app.css");
/// Locally the API is this origin, and the demo principals' tokens are offered.
const CONFIG: &str = r#"{"apiBaseUrl": "", "local": true}"#;

/// Scripts and styles only from the page's own files, no inline code, no framing: even a
/// product name that slipped into the page as HTML could not run.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The page's file at `path`, if it is one: content type and body.
fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    Some(match path {
        "/" | "/index.html" => ("text/html; charset=utf-8", INDEX),
        "/app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "/app.css" => ("text/css; charset=utf-8", APP_CSS),
        "/config.json" => ("application/json", CONFIG),
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
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
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
        }
    }
}
