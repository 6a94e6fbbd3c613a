//! The composition root (ARCHITECTURE "Layers"): the one place that builds adapters and hands
//! each function its app.
//!
//! - [`Adapters`] holds one AWS SDK configuration, loaded once per process (or pointed at an
//!   embedded emulator) with its retry policy explicit, one client per service shared by every
//!   port, the settings, and the messaging set: SQS and SNS in AWS ([`AwsMessaging`]), the
//!   embedded bus locally (`bus-embedded`). Each port is built when a function asks for it, so a
//!   function reads only the settings of the ports it uses, and one that uses no AWS service
//!   (the authorizer) never loads the SDK configuration at all.
//! - [`App`] is a function's one constructor from [`Adapters`]; [`lambda`] hands an app to the
//!   Lambda runtime, so every `main.rs` is one line of wiring.

pub mod lambda;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use bus_aws::{SnsSms, SnsTopic, SqsQueue};
use domain::PortError;
pub use domain::ports::{Bare, PortLayer};
use domain::ports::{
    Carriers, Catalog, EventPublisher, ImportFiles, Imports, KeyUses, OrderQueue, OrderStore,
    SmsSender,
};
use files_s3::S3Files;
use http_kit::{Cors, Endpoint, HttpFunction};
use settings::{ConfigError, Source};
use store_dynamodb::{DynamoStore, ImportTable, KeyUseTable, Tables, schema};
use tokio::sync::OnceCell;

/// Attempts per SDK call (the first and two retries), with the SDK's exponential backoff and
/// full jitter between them: the same in Lambda and locally.
pub const SDK_MAX_ATTEMPTS: u32 = 3;
const SDK_INITIAL_BACKOFF: Duration = Duration::from_millis(50);

/// The SDK's retry policy, explicit rather than the default of whatever SDK version is linked.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(SDK_MAX_ATTEMPTS)
        .with_initial_backoff(SDK_INITIAL_BACKOFF)
}

/// How long connecting to an AWS endpoint may take (TCP and TLS; a cold Lambda at a small
/// memory size spends most of a second in its first handshake).
pub const SDK_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one attempt of an SDK call may take before it is abandoned and retried: DynamoDB,
/// SQS and SNS answer in milliseconds, so an attempt this slow is a stalled connection.
pub const SDK_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an SDK call may take in all, its retries included: a stalled service costs a
/// retry of the work (the port answers a transient error), never the whole invocation.
pub const SDK_OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The SDK's timeouts, explicit: by default it has a connect timeout only, and a stalled
/// response would run to the Lambda's own timeout.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(SDK_CONNECT_TIMEOUT)
        .operation_attempt_timeout(SDK_ATTEMPT_TIMEOUT)
        .operation_timeout(SDK_OPERATION_TIMEOUT)
        .build()
}

/// `config` with the process's retry policy and timeouts, whatever it said of them: every
/// client (DynamoDB, SQS, SNS, S3) is built from the result, in Lambda and locally alike.
pub fn with_policies(config: SdkConfig) -> SdkConfig {
    config
        .into_builder()
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .build()
}

/// The SDK configuration of an AWS-compatible endpoint on this machine (the embedded DynamoDB
/// of `delivery-local` and of the tests): a fixed region, static dummy credentials, and the
/// same retry policy and timeouts as in Lambda.
pub fn local_sdk_config(endpoint_url: &str) -> SdkConfig {
    use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
    let credentials = Credentials::new("local", "local", None, None, "delivery-local");
    with_policies(
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint_url)
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build(),
    )
}

/// The region, when the environment holds the region and the credentials, as Lambda's always
/// does: the SDK then reads both from there, and probes no other source (profile files, the
/// container and instance metadata endpoints) for either. Measured: 0.35 ms less from a
/// function's start to its first poll (docs/performance.md). Anywhere else, the default chains.
pub fn from_environment(get: impl Fn(&str) -> Option<String>) -> Option<Region> {
    let region = get("AWS_REGION").filter(|r| !r.is_empty())?;
    get("AWS_ACCESS_KEY_ID").filter(|k| !k.is_empty())?;
    Some(Region::new(region))
}

/// The messaging ports: the orders queue (with its DLQ), the events topic, and SMS.
pub trait Messaging: Send + Sync {
    fn order_queue(&self, settings: &dyn Source) -> Result<Arc<dyn OrderQueue>, ConfigError>;
    fn events(&self, settings: &dyn Source) -> Result<Arc<dyn EventPublisher>, ConfigError>;
    fn sms(&self) -> Arc<dyn SmsSender>;
}

/// Messaging on SQS and SNS, with clients from the process's one SDK configuration.
pub struct AwsMessaging {
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
}

impl AwsMessaging {
    pub fn new(sdk: &SdkConfig) -> AwsMessaging {
        AwsMessaging {
            sqs: aws_sdk_sqs::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
        }
    }
}

impl Messaging for AwsMessaging {
    fn order_queue(&self, settings: &dyn Source) -> Result<Arc<dyn OrderQueue>, ConfigError> {
        Ok(Arc::new(SqsQueue {
            client: self.sqs.clone(),
            queue_url: settings::required(settings, "ORDERS_QUEUE_URL")?,
            dlq_url: settings::required(settings, "ORDERS_DLQ_URL")?,
        }))
    }

    fn events(&self, settings: &dyn Source) -> Result<Arc<dyn EventPublisher>, ConfigError> {
        Ok(Arc::new(SnsTopic {
            client: self.sns.clone(),
            topic_arn: settings::required(settings, "EVENTS_TOPIC_ARN")?,
        }))
    }

    fn sms(&self) -> Arc<dyn SmsSender> {
        Arc::new(SnsSms {
            client: self.sns.clone(),
        })
    }
}

/// Messaging from ports given whole (locally, the embedded bus's): no setting is read, the
/// ports are their own configuration.
pub struct MessagingPorts {
    pub order_queue: Arc<dyn OrderQueue>,
    pub events: Arc<dyn EventPublisher>,
    pub sms: Arc<dyn SmsSender>,
}

impl Messaging for MessagingPorts {
    fn order_queue(&self, _: &dyn Source) -> Result<Arc<dyn OrderQueue>, ConfigError> {
        Ok(self.order_queue.clone())
    }
    fn events(&self, _: &dyn Source) -> Result<Arc<dyn EventPublisher>, ConfigError> {
        Ok(self.events.clone())
    }
    fn sms(&self) -> Arc<dyn SmsSender> {
        self.sms.clone()
    }
}

/// Everything a function's app is built from.
pub struct Adapters {
    settings: Arc<dyn Source + Send + Sync>,
    layer: Arc<dyn PortLayer>,
    /// In Lambda, loaded on first use; locally, given.
    sdk: OnceCell<SdkConfig>,
    dynamodb: OnceCell<aws_sdk_dynamodb::Client>,
    /// In Lambda, SQS and SNS from `sdk` on first use; locally, the embedded bus.
    messaging: OnceCell<Arc<dyn Messaging>>,
    /// Locally, `delivery-local`'s own file store; in Lambda, S3 (`IMPORTS_BUCKET`).
    files: Option<Arc<dyn ImportFiles>>,
}

impl Adapters {
    /// In Lambda: settings from the environment; the SDK configuration loaded once, on first
    /// use, from the environment (region, credentials, `AWS_ENDPOINT_URL`) with
    /// [`retry_config`]; SQS and SNS.
    pub fn aws() -> Adapters {
        Adapters {
            settings: Arc::new(settings::Env),
            layer: Arc::new(Bare),
            sdk: OnceCell::new(),
            dynamodb: OnceCell::new(),
            messaging: OnceCell::new(),
            files: None,
        }
    }

    /// Adapters over a given SDK configuration, settings source and messaging set (locally:
    /// the embedded DynamoDB's endpoint and the embedded bus).
    pub fn new(
        sdk: SdkConfig,
        settings: Arc<dyn Source + Send + Sync>,
        messaging: Arc<dyn Messaging>,
    ) -> Adapters {
        Adapters {
            settings,
            layer: Arc::new(Bare),
            sdk: OnceCell::new_with(Some(sdk)),
            dynamodb: OnceCell::new(),
            messaging: OnceCell::new_with(Some(messaging)),
            files: None,
        }
    }

    /// The same adapters, with every port a function gets passing through `layer`.
    pub fn with_layer(mut self, layer: Arc<dyn PortLayer>) -> Adapters {
        self.layer = layer;
        self
    }

    /// The same adapters, with import files kept in `files` rather than on S3 (locally).
    pub fn with_files(mut self, files: Arc<dyn ImportFiles>) -> Adapters {
        self.files = Some(files);
        self
    }

    pub fn settings(&self) -> &dyn Source {
        self.settings.as_ref()
    }

    async fn sdk(&self) -> Result<&SdkConfig, ConfigError> {
        self.sdk
            .get_or_try_init(|| async {
                // The one load of the process; its HTTPS client (tls.rs), its retry policy and
                // timeouts, whatever the environment says.
                let loader = aws_config::defaults(BehaviorVersion::latest())
                    .http_client(tls::https_client(self.settings())?);
                let loader = match from_environment(|name| std::env::var(name).ok()) {
                    Some(region) => loader.region(region).credentials_provider(
                        aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
                    ),
                    None => loader,
                };
                Ok(with_policies(loader.load().await))
            })
            .await
    }

    async fn messaging(&self) -> Result<&dyn Messaging, ConfigError> {
        let messaging = self
            .messaging
            .get_or_try_init(|| async {
                Ok::<_, ConfigError>(
                    Arc::new(AwsMessaging::new(self.sdk().await?)) as Arc<dyn Messaging>
                )
            })
            .await?;
        Ok(messaging.as_ref())
    }

    /// The process's one DynamoDB client.
    async fn dynamodb(&self) -> Result<&aws_sdk_dynamodb::Client, ConfigError> {
        self.dynamodb
            .get_or_try_init(|| async { Ok(aws_sdk_dynamodb::Client::new(self.sdk().await?)) })
            .await
    }

    /// The DynamoDB adapter over the three tables named by the settings, without the layer
    /// (for seeding data; functions take the ports below).
    pub async fn store(&self) -> Result<DynamoStore, ConfigError> {
        let tables = Tables::from_settings(self.settings())?;
        Ok(DynamoStore::new(self.dynamodb().await?.clone(), tables))
    }

    fn idempotency_table(&self) -> Result<String, ConfigError> {
        settings::required(self.settings(), "IDEMPOTENCY_TABLE")
    }

    /// The uses of `Idempotency-Key`s, in the table `IDEMPOTENCY_TABLE` names.
    pub async fn key_uses(&self) -> Result<Arc<dyn KeyUses>, ConfigError> {
        let table = self.idempotency_table()?;
        let port = KeyUseTable::new(self.dynamodb().await?.clone(), table);
        Ok(self.layer.key_uses(Arc::new(port)))
    }

    /// The imports and their progress, in `IMPORTS_TABLE` (their batches write
    /// `PRODUCTS_TABLE`).
    pub async fn imports(&self) -> Result<Arc<dyn Imports>, ConfigError> {
        Ok(self.layer.imports(Arc::new(self.import_table().await?)))
    }

    async fn import_table(&self) -> Result<ImportTable, ConfigError> {
        let table = settings::required(self.settings(), "IMPORTS_TABLE")?;
        let products = settings::required(self.settings(), "PRODUCTS_TABLE")?;
        Ok(ImportTable::new(
            self.dynamodb().await?.clone(),
            table,
            products,
        ))
    }

    /// The products' history table, `HISTORY_TABLE`: only the functions that change products
    /// (or read their history) are given it.
    fn history_table(&self) -> Result<String, ConfigError> {
        settings::required(self.settings(), "HISTORY_TABLE")
    }

    /// The importer's imports: as [`Adapters::imports`], each batch also writing its rows'
    /// history entries to `HISTORY_TABLE`.
    pub async fn imports_keeping_history(&self) -> Result<Arc<dyn Imports>, ConfigError> {
        let port = self
            .import_table()
            .await?
            .with_history(self.history_table()?);
        Ok(self.layer.imports(Arc::new(port)))
    }

    /// The import files: the bucket `IMPORTS_BUCKET` names (path-style addressing when the
    /// SDK is pointed at an emulator), or the store given to [`Adapters::with_files`].
    pub async fn import_files(&self) -> Result<Arc<dyn ImportFiles>, ConfigError> {
        if let Some(files) = &self.files {
            return Ok(self.layer.import_files(files.clone()));
        }
        let bucket = settings::required(self.settings(), "IMPORTS_BUCKET")?;
        let sdk = self.sdk().await?;
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        Ok(self.layer.import_files(Arc::new(S3Files {
            client: aws_sdk_s3::Client::from_conf(config),
            bucket,
        })))
    }

    /// Creates every table the settings name, where missing (`delivery-local` and the tests;
    /// in AWS, Terraform makes them).
    pub async fn create_tables(&self) -> Result<(), PortError> {
        let unset = |e: ConfigError| PortError::Permanent(e.to_string());
        let store = self.store().await.map_err(unset)?;
        schema::create_tables(store.client(), store.tables()).await?;
        let idempotency = self.idempotency_table().map_err(unset)?;
        schema::create_table(store.client(), &idempotency, schema::IDEMPOTENCY).await?;
        let imports = settings::required(self.settings(), "IMPORTS_TABLE").map_err(unset)?;
        schema::create_table(store.client(), &imports, schema::IMPORTS).await?;
        let history = self.history_table().map_err(unset)?;
        schema::create_table(store.client(), &history, schema::HISTORY).await
    }

    pub async fn catalog(&self) -> Result<Arc<dyn Catalog>, ConfigError> {
        Ok(self.layer.catalog(Arc::new(self.store().await?)))
    }

    /// The catalog of the functions that change products: as [`Adapters::catalog`], with
    /// `Catalog::save_as` writing each change's history entry to `HISTORY_TABLE` (and
    /// `Catalog::history` reading it).
    pub async fn catalog_keeping_history(&self) -> Result<Arc<dyn Catalog>, ConfigError> {
        let store = self.store().await?.with_history(self.history_table()?);
        Ok(self.layer.catalog(Arc::new(store)))
    }

    pub async fn order_store(&self) -> Result<Arc<dyn OrderStore>, ConfigError> {
        Ok(self.layer.order_store(Arc::new(self.store().await?)))
    }

    pub async fn carriers(&self) -> Result<Arc<dyn Carriers>, ConfigError> {
        Ok(self.layer.carriers(Arc::new(self.store().await?)))
    }

    pub async fn order_queue(&self) -> Result<Arc<dyn OrderQueue>, ConfigError> {
        let port = self.messaging().await?.order_queue(self.settings())?;
        Ok(self.layer.order_queue(port))
    }

    pub async fn events(&self) -> Result<Arc<dyn EventPublisher>, ConfigError> {
        let port = self.messaging().await?.events(self.settings())?;
        Ok(self.layer.events(port))
    }

    pub async fn sms(&self) -> Result<Arc<dyn SmsSender>, ConfigError> {
        Ok(self.layer.sms(self.messaging().await?.sms()))
    }

    pub fn cors(&self) -> Result<Cors, ConfigError> {
        Cors::from_env(self.settings())
    }
}

/// A function's app, with its one constructor from the adapters.
pub trait App: Sized + Send + Sync + 'static {
    /// The function's crate name, as declared in its `[package.metadata.lambda]`.
    const NAME: &'static str;

    fn new(adapters: &Adapters) -> impl Future<Output = Result<Self, ConfigError>> + Send;
}

/// An HTTP function's app behind its endpoint, with the deployment's CORS policy.
pub async fn endpoint<F: App + HttpFunction>(
    adapters: &Adapters,
) -> Result<Endpoint<F>, ConfigError> {
    Ok(Endpoint::new(F::new(adapters).await?, adapters.cors()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ports::Carriers;

    #[test]
    fn the_region_and_credentials_come_from_the_environment_only_when_it_holds_both() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let lambda = env(&[("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "ASIA…")]);
        assert_eq!(from_environment(lambda), Some(Region::new("eu-west-1")));
        assert_eq!(from_environment(env(&[("AWS_REGION", "eu-west-1")])), None);
        assert_eq!(
            from_environment(env(&[("AWS_ACCESS_KEY_ID", "AKIA…")])),
            None
        );
        let blank = env(&[("AWS_REGION", ""), ("AWS_ACCESS_KEY_ID", "ASIA…")]);
        assert_eq!(from_environment(blank), None);
    }

    #[test]
    fn every_sdk_configuration_carries_the_timeouts_and_retries() {
        for config in [
            local_sdk_config("http://127.0.0.1:1"),
            with_policies(SdkConfig::builder().build()),
        ] {
            let timeouts = config.timeout_config().expect("timeouts set");
            assert_eq!(timeouts.connect_timeout(), Some(SDK_CONNECT_TIMEOUT));
            assert_eq!(
                timeouts.operation_attempt_timeout(),
                Some(SDK_ATTEMPT_TIMEOUT)
            );
            assert_eq!(timeouts.operation_timeout(), Some(SDK_OPERATION_TIMEOUT));
            let retries = config.retry_config().expect("retries set");
            assert_eq!(retries.max_attempts(), SDK_MAX_ATTEMPTS);
        }
        // An operation outlasts its attempts' timeouts with backoff between them, so the
        // operation timeout is what bounds a call to a service that stalls every time.
        assert!(SDK_OPERATION_TIMEOUT < SDK_ATTEMPT_TIMEOUT * SDK_MAX_ATTEMPTS);
    }

    /// A service that accepts connections and never answers (a stalled response): without an
    /// attempt timeout, the SDK waits on it for as long as the invocation lasts.
    #[tokio::test]
    async fn a_stalled_service_is_a_transient_error_not_a_hung_call() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming() {
                held.push(conn);
            }
        });
        let client = aws_sdk_dynamodb::Client::new(&local_sdk_config(&url));
        let tables = store_dynamodb::Tables {
            products: "p".into(),
            orders: "o".into(),
            carriers: "c".into(),
        };
        let store = DynamoStore::new(client, tables);
        let error = Carriers::list(&store).await.unwrap_err();
        assert!(error.is_transient(), "{error}");
    }
}
