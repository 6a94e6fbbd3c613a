//! The fault layer (ARCHITECTURE.md, "Faults and the rehearsal"): AWS fails in known ways, and a rehearsal must meet them.
//!
//! [`FaultSpec`] says how often each [`Fault`] strikes (`default`, `none`, or
//! `name=probability,…`); [`Faults`] draws from a seeded generator, so a run can be repeated,
//! and counts what it injected. [`FaultLayer`] wraps the ports at the composition root, so the
//! handlers and the AWS adapters run unchanged: a DynamoDB, SQS, SNS or SMS fault is what the
//! adapter answers once the SDK's own retries are spent. The faults of the event sources
//! (`sqs.duplicate`, `lambda.crash`, `lambda.timeout`) are drawn by `delivery-local`'s
//! workers, which play the part of the Lambda service.

pub mod calls;
mod item_limit;
mod ports;

pub use item_limit::{ItemKey, ItemWriteLimit, Write};
pub use ports::{FaultLayer, STALL};

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A failure AWS is known for, named after what it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// `TransactWriteItems` cancelled with reason `TransactionConflict`.
    DynamodbConflict,
    /// Any DynamoDB call throttled.
    DynamodbThrottle,
    /// Any DynamoDB call answers 500; a write's outcome is then unknown (it happened).
    DynamodbError,
    /// `SendMessageBatch` reports some entries as failed.
    SqsSend,
    /// A message delivered twice, the copies concurrently.
    SqsDuplicate,
    /// `Publish` to the topic throttled.
    SnsPublish,
    /// The SMS `Publish` throttled.
    SmsFail,
    /// The processor's invocation dies after some of its writes, before it answers.
    LambdaCrash,
    /// The invocation runs past its timeout: its answer never counts.
    LambdaTimeout,
    /// A DynamoDB call answers nothing until the SDK's operation timeout; a write's outcome is
    /// then unknown (made or not, at random).
    DynamodbStall,
    /// `SendMessageBatch` stalls until the timeout; the messages may have been sent.
    SqsStall,
    /// `Publish` to the topic stalls until the timeout; the event may have been published.
    SnsStall,
    /// The SMS `Publish` stalls until the timeout; the SMS may have gone out, as a real
    /// timeout may have sent it: a window of unknown outcome for its order.
    SmsStall,
    /// `GetObject` of an import's file stalls until the timeout.
    S3Stall,
    /// `Publish` to the topic succeeds, and the subscriber never gets the event: what no
    /// retry can see, and only the reconciler heals. Not part of a bad day (`default`).
    SnsLose,
}

/// How many faults there are.
const COUNT: usize = 15;

impl Fault {
    pub const ALL: [Fault; COUNT] = [
        Fault::DynamodbConflict,
        Fault::DynamodbThrottle,
        Fault::DynamodbError,
        Fault::SqsSend,
        Fault::SqsDuplicate,
        Fault::SnsPublish,
        Fault::SmsFail,
        Fault::LambdaCrash,
        Fault::LambdaTimeout,
        Fault::DynamodbStall,
        Fault::SqsStall,
        Fault::SnsStall,
        Fault::SmsStall,
        Fault::S3Stall,
        Fault::SnsLose,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::DynamodbConflict => "dynamodb.conflict",
            Fault::DynamodbThrottle => "dynamodb.throttle",
            Fault::DynamodbError => "dynamodb.error",
            Fault::SqsSend => "sqs.send",
            Fault::SqsDuplicate => "sqs.duplicate",
            Fault::SnsPublish => "sns.publish",
            Fault::SmsFail => "sms.fail",
            Fault::LambdaCrash => "lambda.crash",
            Fault::LambdaTimeout => "lambda.timeout",
            Fault::DynamodbStall => "dynamodb.stall",
            Fault::SqsStall => "sqs.stall",
            Fault::SnsStall => "sns.stall",
            Fault::SmsStall => "sms.stall",
            Fault::S3Stall => "s3.stall",
            Fault::SnsLose => "sns.lose",
        }
    }

    /// Its probability in a realistic bad day (`--faults default`): every fault, a few percent;
    /// a stall, which costs seconds, rarely.
    fn default_probability(self) -> f64 {
        match self {
            Fault::DynamodbConflict => 0.05,
            Fault::DynamodbThrottle | Fault::DynamodbError => 0.02,
            Fault::SqsSend | Fault::SqsDuplicate | Fault::SnsPublish | Fault::SmsFail => 0.03,
            Fault::LambdaCrash | Fault::LambdaTimeout => 0.01,
            Fault::DynamodbStall
            | Fault::SqsStall
            | Fault::SnsStall
            | Fault::SmsStall
            | Fault::S3Stall => 0.002,
            // A lost message is rare enough in AWS that a bad day does not include it; a
            // rehearsal of the reconciler asks for it by name.
            Fault::SnsLose => 0.0,
        }
    }

    fn index(self) -> usize {
        Fault::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
}

/// How often each fault strikes, from 0 to 1.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    probabilities: [f64; COUNT],
}

impl FaultSpec {
    pub fn none() -> FaultSpec {
        FaultSpec {
            probabilities: [0.0; COUNT],
        }
    }

    pub fn default_day() -> FaultSpec {
        FaultSpec {
            probabilities: Fault::ALL.map(Fault::default_probability),
        }
    }

    pub fn probability(&self, fault: Fault) -> f64 {
        self.probabilities[fault.index()]
    }

    pub fn is_none(&self) -> bool {
        self.probabilities.iter().all(|p| *p == 0.0)
    }
}

impl FromStr for FaultSpec {
    type Err = String;

    /// `default`, `none`, or `name=probability,…` (the others 0).
    fn from_str(spec: &str) -> Result<FaultSpec, String> {
        match spec.trim() {
            "default" => return Ok(FaultSpec::default_day()),
            "none" | "" => return Ok(FaultSpec::none()),
            _ => {}
        }
        let mut parsed = FaultSpec::none();
        for item in spec.split(',').map(str::trim) {
            let (name, p) = item.split_once('=').ok_or_else(|| {
                format!("{item:?}: write name=probability, e.g. sqs.duplicate=0.05")
            })?;
            let fault = Fault::ALL
                .into_iter()
                .find(|f| f.name() == name.trim())
                .ok_or_else(|| {
                    let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                    format!(
                        "unknown fault {name:?}; the faults are {}",
                        names.join(", ")
                    )
                })?;
            let p: f64 = p
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| format!("{name}: the probability must be a number from 0 to 1"))?;
            parsed.probabilities[fault.index()] = p;
        }
        Ok(parsed)
    }
}

/// The faults of a run: the spec, a seeded generator, and what was injected.
pub struct Faults {
    /// Changed at run time by the operator console (`POST /_local/faults`).
    spec: RwLock<FaultSpec>,
    seed: u64,
    rng: Mutex<StdRng>,
    injected: [AtomicU64; COUNT],
    /// DynamoDB writes that passed through the layer (`scripts/bench` counts them per order).
    store_writes: AtomicU64,
    /// What the layer knows of each order's SMS: sent and not yet recorded, and the windows in
    /// which an SMS went out without its sender knowing (see [`Faults::unknown_sms_outcomes`]).
    sms: Mutex<SmsLedger>,
    /// DynamoDB's per-item write limit, when the run has one (`--item-write-limit`).
    item_limit: Option<Arc<ItemWriteLimit>>,
    /// The grants each function's DynamoDB calls needed.
    calls: Arc<calls::CallLog>,
}

/// The SMS of orders, as the layer saw them go out and be recorded.
#[derive(Default)]
struct SmsLedger {
    /// Orders texted and not yet marked dispatched.
    unrecorded: BTreeSet<String>,
    /// Windows of unknown outcome, by order.
    unknown: BTreeMap<String, u64>,
}

impl Faults {
    pub fn new(spec: FaultSpec, seed: u64) -> Faults {
        Faults {
            spec: RwLock::new(spec),
            seed,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            injected: Default::default(),
            store_writes: AtomicU64::new(0),
            sms: Mutex::default(),
            item_limit: None,
            calls: calls::CallLog::new(),
        }
    }

    /// These faults, and DynamoDB's per-item write limit at `per_second` write units a second.
    pub fn with_item_limit(mut self, per_second: u32) -> Faults {
        self.item_limit = Some(Arc::new(ItemWriteLimit::new(per_second)));
        self
    }

    /// The per-item write limit, if the run has one: the DynamoDB client's HTTP client goes
    /// through it ([`Faults::dynamodb_client`]).
    pub fn item_limit(&self) -> Option<&Arc<ItemWriteLimit>> {
        self.item_limit.as_ref()
    }

    /// The grants each function's DynamoDB calls have needed ([`calls`]).
    pub fn calls(&self) -> &calls::CallLog {
        &self.calls
    }

    /// The HTTP client of the DynamoDB SDK client: the SDK's own (rustls over aws-lc), behind
    /// the per-item write limit when the run has one, every call recorded in [`Faults::calls`].
    pub fn dynamodb_client(&self) -> SharedHttpClient {
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        let mut client = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build_https();
        if let Some(limit) = &self.item_limit {
            client = limit.client(client);
        }
        self.calls.client(client)
    }

    pub fn spec(&self) -> FaultSpec {
        self.spec
            .read()
            .map(|spec| spec.clone())
            .unwrap_or_else(|_| FaultSpec::none())
    }

    /// From now on, faults strike as `spec` says (what was injected stays counted).
    pub fn set_spec(&self, spec: FaultSpec) {
        if let Ok(mut current) = self.spec.write() {
            *current = spec;
        }
    }

    fn probability(&self, fault: Fault) -> f64 {
        self.spec
            .read()
            .map(|s| s.probability(fault))
            .unwrap_or(0.0)
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Whether `fault` strikes now; counted when it does.
    pub fn strike(&self, fault: Fault) -> bool {
        let p = self.probability(fault);
        if p <= 0.0 {
            return false;
        }
        let hit = self
            .rng
            .lock()
            .map(|mut rng| rng.random_bool(p))
            .unwrap_or(false);
        if hit {
            self.injected[fault.index()].fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// A number in `0..bound`, from the run's generator (where in an invocation it crashes).
    pub fn pick(&self, bound: u64) -> u64 {
        self.rng
            .lock()
            .map(|mut rng| rng.random_range(0..bound.max(1)))
            .unwrap_or(0)
    }

    /// How many of each fault were injected, by name.
    /// Counts a store write the layer passes on.
    pub fn count_store_write(&self) {
        self.store_writes.fetch_add(1, Ordering::Relaxed);
    }

    /// The store writes the layer has passed on.
    pub fn store_writes(&self) -> u64 {
        self.store_writes.load(Ordering::Relaxed)
    }

    pub fn injected(&self) -> BTreeMap<&'static str, u64> {
        Fault::ALL
            .into_iter()
            .map(|f| (f.name(), self.injected[f.index()].load(Ordering::Relaxed)))
            .collect()
    }

    /// An SMS of `order` went out (its sender was told so, or the layer stalled after it).
    pub fn sms_sent(&self, order: &str) {
        if let Ok(mut ledger) = self.sms.lock() {
            ledger.unrecorded.insert(order.to_owned());
        }
    }

    /// `order` was marked dispatched: its SMS is recorded.
    pub fn sms_recorded(&self, order: &str) {
        if let Ok(mut ledger) = self.sms.lock() {
            ledger.unrecorded.remove(order);
        }
    }

    /// The SMS of `order` may have gone out without its sender knowing: an SMS call that timed
    /// out after sending, or an invocation that ended (died, timed out, failed) after the SMS
    /// and before its record. A retry may then text again: the rehearsal allows one repeat per
    /// window, and fails on any other.
    pub fn unknown_sms_outcome(&self, order: &str) {
        if let Ok(mut ledger) = self.sms.lock() {
            *ledger.unknown.entry(order.to_owned()).or_default() += 1;
        }
    }

    /// An invocation for `order` ended without success: if its SMS went out and was not
    /// recorded, that is a window of unknown outcome (counted once for that SMS).
    pub fn invocation_failed(&self, order: &str) {
        let texted = self
            .sms
            .lock()
            .is_ok_and(|mut ledger| ledger.unrecorded.remove(order));
        if texted {
            self.unknown_sms_outcome(order);
        }
    }

    /// The windows of unknown SMS outcome, by order.
    pub fn unknown_sms_outcomes(&self) -> BTreeMap<String, u64> {
        self.sms
            .lock()
            .map(|ledger| ledger.unknown.clone())
            .unwrap_or_default()
    }

    /// The probabilities, by name.
    pub fn probabilities(&self) -> BTreeMap<&'static str, f64> {
        Fault::ALL
            .into_iter()
            .map(|f| (f.name(), self.probability(f)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_name_what_is_wrong() {
        assert!("none".parse::<FaultSpec>().unwrap().is_none());
        let day: FaultSpec = "default".parse().unwrap();
        // A bad day has every fault but a lost event, which only a rehearsal of the reconciler
        // asks for by name.
        for fault in Fault::ALL {
            let expected = fault != Fault::SnsLose;
            assert_eq!(day.probability(fault) > 0.0, expected, "{}", fault.name());
        }
        let lose: FaultSpec = "sns.lose=0.1".parse().unwrap();
        assert_eq!(lose.probability(Fault::SnsLose), 0.1);
        let some: FaultSpec = "sqs.duplicate=0.5, dynamodb.conflict=1".parse().unwrap();
        assert_eq!(some.probability(Fault::SqsDuplicate), 0.5);
        assert_eq!(some.probability(Fault::DynamodbConflict), 1.0);
        assert_eq!(some.probability(Fault::SmsFail), 0.0);
        for (bad, says) in [
            ("sqs.dup=0.1", "unknown fault"),
            ("sqs.duplicate=2", "from 0 to 1"),
            ("sqs.duplicate", "name=probability"),
            ("sms.fail=x", "from 0 to 1"),
        ] {
            let e = bad.parse::<FaultSpec>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn strikes_at_its_rate_counted_and_repeatable_by_seed() {
        let spec: FaultSpec = "sms.fail=0.25,sns.publish=1".parse().unwrap();
        let draw = |seed| {
            let faults = Faults::new(spec.clone(), seed);
            let hits: Vec<bool> = (0..4000).map(|_| faults.strike(Fault::SmsFail)).collect();
            assert!(faults.strike(Fault::SnsPublish));
            assert!(!faults.strike(Fault::LambdaCrash));
            (hits, faults.injected())
        };
        let (hits, injected) = draw(7);
        let rate = hits.iter().filter(|h| **h).count() as f64 / 4000.0;
        assert!((0.2..0.3).contains(&rate), "{rate}");
        assert_eq!(
            injected["sms.fail"],
            hits.iter().filter(|h| **h).count() as u64
        );
        assert_eq!((injected["sns.publish"], injected["lambda.crash"]), (1, 0));
        assert_eq!(draw(7).0, hits, "the same seed, the same faults");
    }
}
