//! Key rotation with `JWKS_URL` (SPEC §3), against a local JWKS server: a new key is picked up
//! on its first token, unknown `kid`s refetch at most once per interval, the set is refreshed
//! after its lifetime, a failed refresh keeps the keys in hand, and an issuer that hangs costs
//! a bounded fetch, never a hung authorizer.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authorizer::{JwksUrl, Refresh, Verifier};
use token_signer::{Claims, SigningKey};

const ISS: &str = "https://issuer.example";
const AUD: &str = "delivery-api";

/// What the issuer does with a request.
#[derive(Clone)]
enum Mode {
    Serve(String),
    Fail,
    Hang,
}

/// A JWKS endpoint on loopback, its behaviour switchable, its requests counted.
struct Issuer {
    url: JwksUrl,
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicUsize>,
}

impl Issuer {
    fn start(mode: Mode) -> Issuer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let mode = Arc::new(Mutex::new(mode));
        let requests = Arc::new(AtomicUsize::new(0));
        let (serving, counted) = (mode.clone(), requests.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                counted.fetch_add(1, Ordering::SeqCst);
                let mode = serving.lock().unwrap().clone();
                let reply = match mode {
                    Mode::Serve(body) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    Mode::Fail => "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned(),
                    Mode::Hang => {
                        // Holds the connection, answering nothing.
                        std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_secs(30));
                            drop(conn);
                        });
                        continue;
                    }
                };
                let _ = conn.write_all(reply.as_bytes());
            }
        });
        Issuer {
            url: JwksUrl::parse(&url).unwrap(),
            mode,
            requests,
        }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn verifier(&self, refresh: Refresh) -> Verifier {
        Verifier::from_url(self.url.clone(), refresh, ISS.into(), vec![AUD.into()]).unwrap()
    }
}

fn token(key: &SigningKey) -> String {
    let now = chrono_now();
    key.sign(&Claims {
        iss: ISS.into(),
        aud: AUD.into(),
        sub: "alice".into(),
        scope: "products:read".into(),
        company_id: None,
        iat: now,
        nbf: now,
        exp: now + 300,
    })
    .unwrap()
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const ONCE_A_MINUTE: Refresh = Refresh {
    min_interval: Duration::from_secs(60),
    lifetime: Duration::from_secs(600),
};

const ALWAYS: Refresh = Refresh {
    min_interval: Duration::ZERO,
    lifetime: Duration::ZERO,
};

#[test]
fn a_rotated_key_is_fetched_on_its_first_token_and_unknown_kids_refetch_once_a_minute() {
    let (old, new, forged) = (
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
    );
    let issuer = Issuer::start(Mode::Serve(old.jwks()));
    let verifier = issuer.verifier(ONCE_A_MINUTE);
    assert!(verifier.verify(&token(&old)).is_ok());
    assert_eq!(issuer.requests(), 1, "fetched once, at start");

    issuer.set(Mode::Serve(new.jwks()));
    assert!(
        verifier.verify(&token(&new)).is_ok(),
        "the new key, refetched"
    );
    assert_eq!(issuer.requests(), 2);
    assert!(
        verifier.verify(&token(&old)).is_err(),
        "the old key is gone"
    );

    // Unknown kids cannot make a fetch per request: the next one waits for the interval.
    for _ in 0..5 {
        assert!(verifier.verify(&token(&forged)).is_err());
    }
    assert_eq!(issuer.requests(), 2);
}

#[test]
fn the_key_set_is_refreshed_after_its_lifetime_and_a_failed_refresh_keeps_the_keys() {
    let (old, new) = (
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
    );
    let issuer = Issuer::start(Mode::Serve(old.jwks()));
    let verifier = issuer.verifier(ALWAYS);
    issuer.set(Mode::Fail);
    assert!(
        verifier.verify(&token(&old)).is_ok(),
        "kept through a failed refresh"
    );
    issuer.set(Mode::Serve(new.jwks()));
    assert!(
        verifier.verify(&token(&old)).is_err(),
        "refreshed: the old key retired"
    );
    assert!(verifier.verify(&token(&new)).is_ok());
}

#[test]
fn a_hanging_issuer_costs_a_bounded_fetch() {
    let key = SigningKey::generate().unwrap();
    let hanging = Issuer::start(Mode::Hang);
    let err = Verifier::from_url(
        hanging.url.clone(),
        ONCE_A_MINUTE,
        ISS.into(),
        vec![AUD.into()],
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("JWKS_URL"), "{err}");

    let issuer = Issuer::start(Mode::Serve(key.jwks()));
    let verifier = issuer.verifier(ALWAYS);
    issuer.set(Mode::Hang);
    let other = SigningKey::generate().unwrap();
    assert!(
        verifier.verify(&token(&other)).is_err(),
        "unknown, and the refetch gave up"
    );
    assert!(
        verifier.verify(&token(&key)).is_ok(),
        "the known key still works"
    );
}
