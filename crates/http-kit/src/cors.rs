//! CORS: every response carries `Access-Control-Allow-Origin` for the configured
//! origins; preflights list the methods and headers the API takes.

use http::HeaderValue;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, HeaderMap, VARY,
};
use settings::{ConfigError, Source};

pub const ALLOW_HEADERS: &str = "Authorization, Content-Type, If-Match, Idempotency-Key";
pub const EXPOSE_HEADERS: &str = "ETag, Location";
pub const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, OPTIONS";

/// The allowed origins, from `CORS_ALLOWED_ORIGINS` (comma-separated; `*` allows any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cors {
    origins: Vec<String>,
}

impl Cors {
    pub fn new(origins: Vec<String>) -> Cors {
        Cors { origins }
    }

    pub fn from_env(source: &dyn Source) -> Result<Cors, ConfigError> {
        let origins = settings::list(source, "CORS_ALLOWED_ORIGINS")?;
        for origin in &origins {
            let valid = origin == "*"
                || ((origin.starts_with("https://") || origin.starts_with("http://"))
                    && HeaderValue::from_str(origin).is_ok()
                    && !origin.ends_with('/'));
            if !valid {
                return Err(ConfigError::malformed(
                    "CORS_ALLOWED_ORIGINS",
                    format!("{origin:?} is not an origin like https://shop.example.com"),
                ));
            }
        }
        Ok(Cors { origins })
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`: the origin itself
    /// when allowed, else the first configured origin (so the browser refuses the response).
    fn allow_origin(&self, origin: Option<&str>) -> String {
        if self.origins.iter().any(|o| o == "*") {
            return "*".to_owned();
        }
        match origin {
            Some(o) if self.origins.iter().any(|allowed| allowed == o) => o.to_owned(),
            _ => self.origins.first().cloned().unwrap_or_default(),
        }
    }

    /// Adds the CORS headers of an ordinary response.
    pub fn apply(&self, origin: Option<&str>, headers: &mut HeaderMap) {
        if let Ok(v) = HeaderValue::from_str(&self.allow_origin(origin)) {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
        headers.append(VARY, HeaderValue::from_static("Origin"));
    }

    /// Adds the headers of a preflight (`OPTIONS`) response.
    pub fn apply_preflight(&self, origin: Option<&str>, headers: &mut HeaderMap) {
        self.apply(origin, headers);
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_allowed_origins_only() {
        let cors = Cors::from_env(&[(
            "CORS_ALLOWED_ORIGINS",
            "https://a.example, http://localhost:3000",
        )])
        .unwrap();
        let mut h = HeaderMap::new();
        cors.apply(Some("http://localhost:3000"), &mut h);
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "http://localhost:3000");
        let mut h = HeaderMap::new();
        cors.apply(Some("https://evil.example"), &mut h);
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.example");
        assert_eq!(h[ACCESS_CONTROL_EXPOSE_HEADERS], EXPOSE_HEADERS);
    }

    #[test]
    fn a_preflight_names_the_methods_and_headers_a_client_may_send() {
        let cors = Cors::new(vec!["https://a.example".into()]);
        let mut h = HeaderMap::new();
        cors.apply_preflight(Some("https://a.example"), &mut h);
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.example");
        assert_eq!(
            h[ACCESS_CONTROL_ALLOW_METHODS],
            "GET, POST, PUT, PATCH, OPTIONS"
        );
        assert_eq!(
            h[ACCESS_CONTROL_ALLOW_HEADERS],
            "Authorization, Content-Type, If-Match, Idempotency-Key"
        );
        assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "600");
        assert_eq!(h[VARY], "Origin");
        // An ordinary response has none of the preflight's headers.
        let mut plain = HeaderMap::new();
        cors.apply(Some("https://a.example"), &mut plain);
        assert!(!plain.contains_key(ACCESS_CONTROL_ALLOW_METHODS));
    }

    #[test]
    fn refuses_malformed_origins() {
        for bad in ["a.example", "https://a.example/", "ftp://x"] {
            let err = Cors::from_env(&[("CORS_ALLOWED_ORIGINS", bad)]).unwrap_err();
            assert!(err.to_string().contains("CORS_ALLOWED_ORIGINS"), "{bad}");
        }
        assert!(Cors::from_env(&[("X", "y")]).is_err());
    }
}
