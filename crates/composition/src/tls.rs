//! The roots a function trusts for AWS's endpoints: the five of Amazon Trust Services, compiled
//! in, rather than the machine's whole bundle read from disk at every cold start.
//!
//! Every AWS service endpoint presents a certificate that chains to Amazon Root CA 1–4, which
//! Starfield Services Root G2 cross-signs; Amazon Trust Services asks custom trust stores to
//! hold exactly these five. Lambda's environment sets no `SSL_CERT_FILE`, so the SDK's default
//! would read and parse Amazon Linux's bundle (about 140 roots) before the first request:
//! measured in docs/performance.md ("Levers"). `SSL_CERT_FILE`, when set (a proxy's
//! authority, the bench's), adds its roots to these; it never replaces them.

use aws_smithy_http_client::ConnectorBuilder;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use settings::{ConfigError, Source};

/// The five roots, as PEM (with a comment naming each and its fingerprint).
pub const AMAZON_TRUST_SERVICES: &str = include_str!("../roots/amazon-trust-services.pem");

/// The setting naming a PEM file of more roots to trust.
pub const EXTRA_ROOTS: &str = "SSL_CERT_FILE";

/// The SDK's HTTPS client (rustls over aws-lc), trusting the Amazon roots and those of
/// `SSL_CERT_FILE` when the settings name one.
pub fn https_client(settings: &dyn Source) -> Result<SharedHttpClient, ConfigError> {
    let mut roots = TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES.as_bytes());
    if let Some(path) = settings.get(EXTRA_ROOTS).filter(|p| !p.is_empty()) {
        let pem = std::fs::read(&path)
            .map_err(|e| ConfigError::malformed(EXTRA_ROOTS, format!("{path}: {e}")))?;
        roots_in(&pem).map_err(|e| ConfigError::malformed(EXTRA_ROOTS, format!("{path}: {e}")))?;
        roots = roots.with_pem_certificate(pem);
    }
    let context = TlsContext::builder()
        .with_trust_store(roots)
        .build()
        .map_err(|e| ConfigError::malformed(EXTRA_ROOTS, e.to_string()))?;
    // As the SDK's default client builds its connectors, but for the roots: its settings and
    // sleep, and the proxy of `HTTPS_PROXY`/`NO_PROXY` when the environment names one.
    let client = aws_smithy_http_client::Builder::new().build_with_connector_fn(
        move |settings, components| {
            let mut connector = ConnectorBuilder::default()
                .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(context.clone());
            connector.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(ProxyConfig::from_env()));
            connector.build()
        },
    );
    Ok(client)
}

/// How many roots `pem` holds, each one a certificate rustls can use as a trust anchor. The
/// SDK panics on a PEM block it cannot use, so each is checked here first and a file with one
/// is refused, naming the block.
pub fn roots_in(pem: &[u8]) -> Result<usize, String> {
    let mut store = rustls::RootCertStore::empty();
    for (i, der) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let der = der.map_err(|e| format!("certificate {}: {e}", i + 1))?;
        store
            .add(der)
            .map_err(|e| format!("certificate {}: {e}", i + 1))?;
    }
    match store.len() {
        0 => Err("no certificate in the file".to_owned()),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, String>);
    impl Source for Map {
        fn get(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    #[test]
    fn the_compiled_in_roots_are_the_five_of_amazon_trust_services() {
        assert_eq!(roots_in(AMAZON_TRUST_SERVICES.as_bytes()), Ok(5));
    }

    #[test]
    fn a_file_of_extra_roots_that_holds_no_usable_certificate_stops_the_start_naming_it() {
        let dir = std::env::temp_dir().join(format!("composition-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases = [
            ("empty.pem", "", "no certificate"),
            (
                "garbage.pem",
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "certificate 1",
            ),
        ];
        for (name, body, expected) in cases {
            let path = dir.join(name);
            std::fs::write(&path, body).unwrap();
            let settings = Map(HashMap::from([(EXTRA_ROOTS, path.display().to_string())]));
            let error = https_client(&settings).unwrap_err().to_string();
            assert!(error.contains(EXTRA_ROOTS), "{error}");
            assert!(error.contains(expected), "{name}: {error}");
        }
        let missing = Map(HashMap::from([(
            EXTRA_ROOTS,
            "/nonexistent/roots.pem".into(),
        )]));
        let error = https_client(&missing).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/roots.pem"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A DynamoDB endpoint behind TLS, its certificate signed by an authority of its own
    /// (written to a PEM file): it answers every request with an empty table list.
    async fn endpoint_behind_tls(dir: &std::path::Path) -> (String, std::path::PathBuf) {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let ca_file = dir.join("authority.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let mut request = [0u8; 16384];
                let _ = tls.read(&mut request).await;
                let body = r#"{"TableNames":[]}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            }
        });
        (format!("https://localhost:{port}"), ca_file)
    }

    /// The roots decide the handshake: an endpoint whose authority `SSL_CERT_FILE` names is
    /// reached; without it, the compiled-in roots alone refuse that endpoint (and the
    /// machine's own bundle is never consulted).
    #[tokio::test]
    async fn extra_roots_join_the_amazon_ones_and_decide_the_handshake() {
        let dir = std::env::temp_dir().join(format!("composition-tls-ok-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (url, ca_file) = endpoint_behind_tls(&dir).await;
        let list = |settings: Map| {
            let url = url.clone();
            async move {
                let sdk = crate::local_sdk_config(&url)
                    .into_builder()
                    .http_client(https_client(&settings).unwrap())
                    .build();
                aws_sdk_dynamodb::Client::new(&sdk)
                    .list_tables()
                    .send()
                    .await
            }
        };
        let trusted = Map(HashMap::from([(
            EXTRA_ROOTS,
            ca_file.display().to_string(),
        )]));
        let listed = list(trusted)
            .await
            .expect("the endpoint's authority is trusted");
        assert_eq!(listed.table_names(), &[] as &[String]);
        let refused = list(Map(HashMap::new())).await.unwrap_err();
        assert!(
            matches!(
                refused,
                aws_sdk_dynamodb::error::SdkError::DispatchFailure(_)
            ),
            "{refused:?}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
