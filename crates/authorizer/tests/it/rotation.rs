//! Key rotation with `JWKS_URL`, against a local JWKS server: a new key is picked up
//! on its first token, unknown `kid`s refetch at most once per interval, a stale set is
//! refreshed in the background while the keys in hand answer, a failed refresh (or a set with
//! no usable key) keeps the keys in hand, and an issuer that never answers costs a bounded
//! fetch, never a hung authorizer.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authorizer::{JwksUrl, Refresh, Verifier};
use token_signer::{Claims, SigningKey};

const ISS: &str = "https://issuer.example";
const AUD: &str = "delivery-api";

/// What the issuer does with a request.
#[derive(Clone)]
enum Mode {
    Serve(String),
    Fail,
    /// Reads the request and never answers, holding the connection open.
    Hang,
}

/// A JWKS endpoint on loopback, its behaviour switchable, its requests counted, the
/// connections it hangs on kept (open) for the test to look at or answer.
struct Issuer {
    url: JwksUrl,
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicUsize>,
    /// When each request arrived.
    arrivals: Arc<Mutex<Vec<Instant>>>,
    hanging: Arc<Mutex<Vec<TcpStream>>>,
}

fn ok(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

impl Issuer {
    fn start(mode: Mode) -> Issuer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let mode = Arc::new(Mutex::new(mode));
        let requests = Arc::new(AtomicUsize::new(0));
        let hanging = Arc::new(Mutex::new(Vec::new()));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let (serving, counted, held) = (mode.clone(), requests.clone(), hanging.clone());
        let arrived = arrivals.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                arrived.lock().unwrap().push(Instant::now());
                // Counted before the answer is written: the client may return (and the test
                // look at the count) as soon as it has read the answer.
                counted.fetch_add(1, Ordering::SeqCst);
                let mode = serving.lock().unwrap().clone();
                let reply = match mode {
                    Mode::Serve(body) => ok(&body),
                    Mode::Fail => "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned(),
                    Mode::Hang => {
                        held.lock().unwrap().push(conn);
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
            arrivals,
            hanging,
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

/// Waits (up to ten seconds) for `condition`, which a background refresh makes true.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < until, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The faults this test binary counted (the authorizer's own: a key set it could not fetch or
/// use). Tests run at once in one process, so a test compares before and after, never exact.
fn faults() -> usize {
    static FAULTS: AtomicUsize = AtomicUsize::new(0);
    static SINK: std::sync::Once = std::sync::Once::new();
    SINK.call_once(|| {
        telemetry::set_sink(|metric, value, _| {
            if metric == telemetry::FAULTS {
                FAULTS.fetch_add(value as usize, Ordering::SeqCst);
            }
        });
    });
    FAULTS.load(Ordering::SeqCst)
}

#[test]
fn the_key_set_is_refreshed_after_its_lifetime_and_a_failed_refresh_keeps_the_keys() {
    let (old, new) = (
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
    );
    let issuer = Issuer::start(Mode::Serve(old.jwks()));
    let verifier = issuer.verifier(ALWAYS);
    let counted = faults();
    issuer.set(Mode::Fail);
    assert!(verifier.verify(&token(&old)).is_ok());
    eventually("a failed refresh", || issuer.requests() >= 2);
    eventually("the failure counted", || faults() > counted);
    assert!(
        verifier.verify(&token(&old)).is_ok(),
        "kept through a failed refresh"
    );
    issuer.set(Mode::Serve(new.jwks()));
    eventually("the old key retired by a refresh", || {
        verifier.verify(&token(&old)).is_err()
    });
    assert!(verifier.verify(&token(&new)).is_ok());
}

#[test]
fn a_refreshed_set_without_a_usable_key_keeps_the_keys_in_hand_and_is_a_fault() {
    let key = SigningKey::generate().unwrap();
    let issuer = Issuer::start(Mode::Serve(key.jwks()));
    let verifier = issuer.verifier(ALWAYS);
    let counted = faults();
    issuer.set(Mode::Serve(
        r#"{"keys": [{"kty": "RSA", "use": "enc", "kid": "enc", "n": "AQAB", "e": "AQAB"}]}"#
            .to_owned(),
    ));
    assert!(verifier.verify(&token(&key)).is_ok());
    eventually("the refresh counted as a fault", || faults() > counted);
    assert!(verifier.verify(&token(&key)).is_ok(), "the keys in hand");
}

#[test]
fn a_stale_set_is_refreshed_off_the_request_path() {
    let (old, new) = (
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
    );
    let issuer = Issuer::start(Mode::Serve(old.jwks()));
    let verifier = issuer.verifier(ALWAYS);
    issuer.set(Mode::Hang);
    // The set is stale: the token is verified with the keys in hand while the refresh waits
    // for an issuer that has not answered yet.
    assert!(verifier.verify(&token(&old)).is_ok());
    eventually("the refresh asked and held", || {
        !issuer.hanging.lock().unwrap().is_empty()
    });
    let mut held = issuer.hanging.lock().unwrap().pop().unwrap();
    // Had the request waited for the refresh, the fetch would have timed out and closed its
    // connection before the answer: it is still open, the fetch still waiting.
    held.set_nonblocking(true).unwrap();
    let open =
        matches!(held.peek(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    assert!(open, "the refresh's connection is still waiting");
    held.set_nonblocking(false).unwrap();
    held.write_all(ok(&new.jwks()).as_bytes()).unwrap();
    drop(held);
    issuer.set(Mode::Serve(new.jwks()));
    eventually("the new set in hand", || {
        verifier.verify(&token(&old)).is_err()
    });
    assert!(verifier.verify(&token(&new)).is_ok());
}

#[test]
fn an_issuer_that_never_answers_costs_a_bounded_fetch() {
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
    assert_eq!(
        hanging.requests(),
        1,
        "no second attempt with the budget spent"
    );

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

#[test]
fn a_failing_issuer_is_asked_twice_with_a_pause_between() {
    let issuer = Issuer::start(Mode::Fail);
    let err = issuer.url.fetch().unwrap_err().to_string();
    assert!(err.contains("failed within 2500 ms"), "{err}");
    assert_eq!(issuer.requests(), 2, "two attempts");
    let arrivals = issuer.arrivals.lock().unwrap().clone();
    // A lower bound only, which the pause guarantees: the retry never hammers the issuer.
    assert!(
        arrivals[1] - arrivals[0] >= Duration::from_millis(100),
        "{:?} between the attempts",
        arrivals[1] - arrivals[0]
    );
}

/// A key set padded with an extra member to `size` bytes.
fn padded_set(key: &SigningKey, size: usize) -> String {
    let set = key.jwks();
    let open = format!(r#"{},"padding":""#, set.strip_suffix('}').unwrap());
    let padding = size - open.len() - r#""}"#.len();
    format!(r#"{open}{}"}}"#, "x".repeat(padding))
}

#[test]
fn a_key_set_is_read_up_to_256_kib_and_no_further() {
    let key = SigningKey::generate().unwrap();
    let fits = padded_set(&key, 256 * 1024);
    assert_eq!(fits.len(), 256 * 1024);
    let issuer = Issuer::start(Mode::Serve(fits.clone()));
    assert_eq!(issuer.url.fetch().unwrap(), fits);
    issuer.set(Mode::Serve(padded_set(&key, 256 * 1024 + 1)));
    let err = issuer.url.fetch().unwrap_err().to_string();
    assert!(err.contains("reading"), "{err}");
}
