//! The signing key `delivery-local` trusts: an ES256 (P-256) key generated on first start into
//! the data dir, published to the authorizer as a JWKS through the same `JWKS` setting Lambda
//! uses, and used by `delivery-local token` to mint bearer tokens.

use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("reading or writing the signing key {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the signing key is not a valid P-256 PKCS#8 key")]
    Invalid,
    #[error("signing a token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// An ES256 key pair and its key id.
pub struct SigningKey {
    pkcs8: Vec<u8>,
    public: Vec<u8>,
    kid: String,
}

impl SigningKey {
    pub fn generate() -> Result<SigningKey, KeyError> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| KeyError::Invalid)?;
        SigningKey::from_pkcs8(pkcs8.as_ref())
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<SigningKey, KeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|_| KeyError::Invalid)?;
        let public = pair.public_key().as_ref().to_vec();
        // The key id: a digest of the public key, so it changes whenever the key does.
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &public);
        let kid = URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12]);
        Ok(SigningKey {
            pkcs8: der.to_vec(),
            public,
            kid,
        })
    }

    /// Loads the key at `path`, creating it (owner-only permissions) on first use. Creation is
    /// atomic: the key is written to a temporary file and hard-linked into place, which fails
    /// if another process got there first, in which case that process's key is used.
    pub fn load_or_create(path: &Path) -> Result<SigningKey, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read(path) {
            Ok(der) => return SigningKey::from_pkcs8(&der),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            Err(_) => {}
        }
        let key = SigningKey::generate()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension(format!("tmp-{}-{}", std::process::id(), key.kid));
        write_private(&tmp, &key.pkcs8).map_err(io)?;
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                SigningKey::from_pkcs8(&std::fs::read(path).map_err(io)?)
            }
            Err(e) => Err(io(e)),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWKS document (`{"keys": [...]}`), for the `JWKS` setting.
    pub fn jwks(&self) -> String {
        // Uncompressed point: 0x04 || X (32 bytes) || Y (32 bytes).
        let (x, y) = self.public[1..].split_at(32);
        serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }]})
        .to_string()
    }

    /// Signs `claims` as an ES256 JWT with this key's `kid`.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_ec_der(&self.pkcs8),
        )?)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// The claims of a token minted for a principal.
#[derive(Clone, Debug, Serialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_first_uses_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.p8");
        let kids: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| SigningKey::load_or_create(&path).unwrap().kid().to_owned()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(kids.iter().all(|k| k == &kids[0]), "{kids:?}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left behind"
        );
    }

    #[test]
    fn persists_and_reloads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.p8");
        let a = SigningKey::load_or_create(&path).unwrap();
        let b = SigningKey::load_or_create(&path).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.jwks(), b.jwks());
        let jwks: serde_json::Value = serde_json::from_str(&a.jwks()).unwrap();
        assert_eq!(jwks["keys"][0]["kid"], a.kid());
    }
}
