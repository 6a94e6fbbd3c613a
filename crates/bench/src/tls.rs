//! AWS answers over TLS only; `delivery-local`'s DynamoDB and moto answer plain HTTP. So the
//! bench puts a TLS front before each: a certificate authority made for the run signs one
//! certificate for 127.0.0.1, each front decrypts and relays the bytes to its plain upstream,
//! and the functions trust the authority through `SSL_CERT_FILE`, as they trust Amazon's in
//! Lambda. Their first AWS call then pays a real TLS handshake, under their CPU share.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// The run's certificate authority and the server configuration of every front.
pub struct Authority {
    /// The authority's certificate (PEM), for `SSL_CERT_FILE`.
    pub ca_file: PathBuf,
    acceptor: TlsAcceptor,
}

impl Authority {
    /// A new authority, its certificate written under `dir` (after the certificates of
    /// `bundle`, when given), and a certificate it signed for 127.0.0.1 and `localhost`.
    pub fn new(dir: &Path, bundle: Option<&Path>) -> Result<Authority, String> {
        let err = |e: rcgen::Error| e.to_string();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // The usages OpenSSL's verifier (boto3's, through Python) expects of an authority and of
        // a server's certificate; rustls accepts either way.
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        // Names of their own: rcgen gives every certificate the same one, and OpenSSL takes a
        // certificate whose issuer is its own subject for self-signed, and refuses it.
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "delivery bench authority");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(err)?)
            .map_err(err)?;
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(err)?;
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().map_err(err)?;
        let certificate = params.signed_by(&key, &ca).map_err(err)?;
        let ca_file = dir.join("bench-ca.pem");
        let mut roots = match bundle {
            Some(bundle) => {
                std::fs::read_to_string(bundle).map_err(|e| format!("{}: {e}", bundle.display()))?
            }
            None => String::new(),
        };
        roots.push_str(&ca.pem());
        std::fs::write(&ca_file, roots).map_err(|e| format!("{}: {e}", ca_file.display()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let chain: Vec<CertificateDer<'static>> = vec![certificate.der().clone()];
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(|e| e.to_string())?;
        Ok(Authority {
            ca_file,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// A TLS front for the plain HTTP `upstream` (`http://host:port`): its `https://` URL.
    pub async fn front(&self, upstream: &str) -> Result<String, String> {
        let target: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .map_err(|e| format!("{upstream}: {e}"))?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let acceptor = self.acceptor.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(acceptor.clone(), client, target));
            }
        });
        Ok(format!("https://{address}"))
    }
}

/// One connection: the TLS handshake, then the bytes both ways until either side closes.
async fn relay(acceptor: TlsAcceptor, client: TcpStream, target: SocketAddr) {
    let _ = client.set_nodelay(true);
    let Ok(mut tls) = acceptor.accept(client).await else {
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        return;
    };
    let _ = upstream.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
}
