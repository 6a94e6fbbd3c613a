//! `serve`: embedded DynamoDB on the data dir, tables and demo data, the gateway, the banner.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus_embedded::{Bus, EmbeddedMessaging, IMPORTS, NOTIFICATIONS, ORDERS};
use composition::{Adapters, App, MessagingPorts};
use faults::{FaultLayer, Faults};
use files_embedded::EmbeddedFiles;
use import_catalog::ImportCatalog;
use notify_carrier::NotifyCarrier;
use order_processor::Processor;
use reconciler::Reconciler;
use settings::Source;
use tokio::net::TcpListener;

use crate::gateway::{self, Gateway};
use crate::local_routes::LocalRoutes;
use crate::metrics::Metrics;
use crate::seed::{self, Seed};
use crate::uploads::Uploads;
use crate::workers::{Delivery, Workers};
use crate::{ServeArgs, tokens};

const DB_FILE: &str = "delivery.sqlite";
/// The imports bucket's files, under the data dir.
const FILES_DIR: &str = "files";
/// Locked while a server uses the data dir.
const LOCK_FILE: &str = "server.lock";

/// Settings from forced values, then the environment, then defaults.
struct LocalSettings {
    forced: HashMap<&'static str, String>,
    defaults: HashMap<&'static str, String>,
}

impl Source for LocalSettings {
    fn get(&self, name: &str) -> Option<String> {
        self.forced
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .or_else(|| self.defaults.get(name).cloned())
    }
}

pub fn run(args: ServeArgs) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,dynoxide=error,aws_smithy_runtime=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    runtime.block_on(serve(args))
}

fn remove_data(dir: &Path) -> Result<(), String> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let path = dir.join(format!("{DB_FILE}{suffix}"));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("removing {}: {e}", path.display())),
        }
    }
    let files = dir.join(FILES_DIR);
    match std::fs::remove_dir_all(&files) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("removing {}: {e}", files.display()))
        }
        _ => Ok(()),
    }
}

/// The embedded DynamoDB: dynoxide on the data dir's SQLite file, served in-process on a
/// loopback port and reached through the same aws-sdk-dynamodb adapter production uses.
struct EmbeddedDynamo {
    endpoint: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

impl EmbeddedDynamo {
    async fn start(db_path: &Path) -> Result<EmbeddedDynamo, String> {
        let db = dynoxide::Database::new(&db_path.to_string_lossy())
            .map_err(|e| format!("opening {}: {e}", db_path.display()))?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("binding DynamoDB: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(dynoxide::server::serve_with_shutdown(listener, db, async {
            let _ = stopped.await;
        }));
        Ok(EmbeddedDynamo {
            endpoint: format!("http://{address}"),
            stop,
            task,
        })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Settings as Lambda gets them (docs/configuration.md), with local defaults for the tables and CORS; the JWT
/// settings are always the data dir's own key, so that `delivery-local token` tokens are
/// trusted.
fn local_settings(key: &token_signer::SigningKey, args: &ServeArgs, port: u16) -> LocalSettings {
    LocalSettings {
        forced: HashMap::from([
            ("JWKS", key.jwks()),
            ("JWT_ISSUER", tokens::ISSUER.to_owned()),
            ("JWT_AUDIENCE", tokens::AUDIENCE.to_owned()),
            (
                "RECONCILE_ORDERS_AFTER_SECONDS",
                args.reconcile_after.to_string(),
            ),
        ]),
        defaults: HashMap::from([
            ("PRODUCTS_TABLE", "delivery-products".to_owned()),
            ("ORDERS_TABLE", "delivery-orders".to_owned()),
            ("CARRIERS_TABLE", "delivery-carriers".to_owned()),
            ("IDEMPOTENCY_TABLE", "delivery-idempotency".to_owned()),
            ("IMPORTS_TABLE", "delivery-imports".to_owned()),
            ("HISTORY_TABLE", "delivery-history".to_owned()),
            ("IMPORTS_BUCKET", files_embedded::BUCKET.to_owned()),
            // The imports queue's visibility timeout stands for the importer's timeout here:
            // an import waits at most both for its next delivery, as in Terraform.
            (
                "RECONCILE_IMPORTS_AFTER_SECONDS",
                (2 * IMPORTS.visibility_timeout.as_secs()).to_string(),
            ),
            (
                "CORS_ALLOWED_ORIGINS",
                format!("http://127.0.0.1:{port},http://localhost:{port}"),
            ),
        ]),
    }
}

/// What a function binary needs to run against this server's DynamoDB (`GET
/// /_local/environment`, for `scripts/bench`): the settings it gives its functions, and the
/// endpoint of its embedded DynamoDB.
fn environment(settings: &LocalSettings, dynamo: &EmbeddedDynamo) -> serde_json::Value {
    let names = settings.forced.keys().chain(settings.defaults.keys());
    let values: serde_json::Map<String, serde_json::Value> = names
        .filter_map(|name| Some((name.to_string(), settings.get(name)?.into())))
        .collect();
    serde_json::json!({"settings": values, "dynamodb_endpoint": dynamo.endpoint})
}

/// The tables, created if missing, and the demo data on a first start.
async fn prepare_store(adapters: &Adapters) -> Result<Seed, String> {
    adapters
        .create_tables()
        .await
        .map_err(|e| format!("creating tables: {e}"))?;
    let store = adapters.store().await.map_err(|e| e.to_string())?;
    seed::seed_if_empty(&store)
        .await
        .map_err(|e| format!("seeding demo data: {e}"))
}

/// The queue, topic and SMS outbox, in the same database file; messages in flight at a stop
/// are released, since their only consumer is gone.
fn open_bus(db_path: &Path) -> Result<Bus, String> {
    let bus = Bus::open(db_path).map_err(|e| format!("opening the message bus: {e}"))?;
    for queue in [ORDERS.name, NOTIFICATIONS.name, IMPORTS.name] {
        bus.release_in_flight(queue)
            .map_err(|e| format!("recovering the {queue} queue: {e}"))?;
    }
    Ok(bus)
}

/// Holds the data dir for this server: an OS lock on `LOCK_FILE`, released when the process
/// ends (even by `kill -9`). A second server on the same dir is refused before it touches
/// anything, `--fresh` included.
fn lock_data_dir(dir: &Path) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("creating the data dir {}: {e}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "the data dir {} is in use by another delivery-local; stop it, or choose another --data-dir (nothing was changed)",
            dir.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("locking {}: {e}", path.display())),
    }
}

async fn listen(port: u16) -> Result<(TcpListener, u16), String> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        format!("cannot listen on 127.0.0.1:{port}: {e} (choose another with --port)")
    })?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    Ok((listener, port))
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let dir = &args.data_dir;
    let _lock = lock_data_dir(dir)?;
    // Listen before anything is deleted: a refused port must not cost the data.
    let (listener, port) = listen(args.port).await?;
    if args.fresh {
        remove_data(dir)?;
    }
    let key = Arc::new(tokens::key(dir)?);
    let db_path = dir.join(DB_FILE);
    let dynamo = EmbeddedDynamo::start(&db_path).await?;
    let bus = open_bus(&db_path)?;
    let faults = faults_of(&args);
    let settings = local_settings(&key, &args, port);
    let environment = environment(&settings, &dynamo);
    let base = format!("http://127.0.0.1:{port}");
    let files = Arc::new(EmbeddedFiles::new(&dir.join(FILES_DIR), &base));
    let adapters = local_adapters(&dynamo, &bus, settings, &faults).with_files(files.clone());
    let seed = prepare_store(&adapters).await?;
    let delivery = Delivery {
        faults: faults.clone(),
        visibility: args.visibility_timeout.map(Duration::from_secs),
        processor_concurrency: usize::from(args.processor_concurrency),
        reconcile_every: Duration::from_secs(args.reconcile_every),
    };
    let workers = start_workers(&adapters, &bus, &delivery, &files).await?;
    let metrics = console_metrics(&bus, &faults);
    let uploads = Uploads {
        files,
        bus: bus.clone(),
    };
    let local = LocalRoutes {
        store: adapters.store().await.map_err(|e| e.to_string())?,
        bus,
        key: key.clone(),
        faults: faults.clone(),
        metrics: metrics.clone(),
        base,
        baseline: Mutex::new(None),
        environment,
        reconciler: (args.reconcile_every, args.reconcile_after),
    };
    let gateway = Gateway::new(&adapters, local, uploads).await?;
    banner(port, dir, &key, seed)?;
    warn_of_faults(&faults, &delivery);
    axum::serve(listener, gateway::router(Arc::new(gateway)))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            // Open consoles' streams end, or they would hold the shutdown open.
            metrics.close();
        })
        .await
        .map_err(|e| format!("serving: {e}"))?;
    workers.stop().await;
    dynamo.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// The faults `--faults` asks for, drawn from `--faults-seed` (or a random seed).
fn faults_of(args: &ServeArgs) -> Arc<Faults> {
    let seed = args
        .faults_seed
        .unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let faults = Faults::new(args.faults.clone(), seed);
    Arc::new(match args.item_write_limit {
        Some(per_second) => faults.with_item_limit(per_second),
        None => faults,
    })
}

/// The composition root's adapters, over the embedded DynamoDB and bus, behind the fault layer.
/// The layer is always there (with no fault, it only reads a probability of 0) so that the
/// operator console can switch the fault profile of a running server.
fn local_adapters(
    dynamo: &EmbeddedDynamo,
    bus: &Bus,
    settings: LocalSettings,
    faults: &Arc<Faults>,
) -> Adapters {
    let local = EmbeddedMessaging { bus: bus.clone() };
    let messaging = MessagingPorts {
        order_queue: local.order_queue(),
        events: local.events(),
        sms: local.sms(),
    };
    let sdk = composition::local_sdk_config(&dynamo.endpoint)
        .into_builder()
        .http_client(faults.dynamodb_client())
        .build();
    let adapters = Adapters::new(sdk, Arc::new(settings), Arc::new(messaging));
    adapters.with_layer(Arc::new(FaultLayer(faults.clone())))
}

/// Says which faults are injected, and when invocations are too short for a stall.
fn warn_of_faults(faults: &Faults, delivery: &Delivery) {
    if !faults.spec().is_none() {
        tracing::warn!(faults = ?faults.probabilities(), seed = faults.seed(), "injecting faults (GET /_local/faults counts them)");
    }
    if let Some(limit) = faults.item_limit() {
        tracing::warn!(
            units_per_second = limit.per_second(),
            "DynamoDB's per-item write limit is on (GET /_local/faults counts the refusals per item)"
        );
    }
    if delivery
        .visibility
        .is_some_and(|v| v <= composition::SDK_OPERATION_TIMEOUT)
    {
        // In Lambda a function's timeout outlasts the SDK's: here the invocation would end
        // before a stalled call answers, and every stall would kill it.
        tracing::warn!(
            "--visibility-timeout is no longer than a stalled call (the SDK's {} s operation timeout): a stall kills the invocation, as it never would in Lambda",
            composition::SDK_OPERATION_TIMEOUT.as_secs()
        );
    }
}

/// The operator console's metrics: the functions' own data points, sampled every second.
fn console_metrics(bus: &Bus, faults: &Arc<Faults>) -> Arc<Metrics> {
    let metrics = Metrics::new();
    let sink = metrics.clone();
    telemetry::set_sink(move |metric, value, unit| sink.observe(metric, value, unit));
    metrics.start(bus.clone(), faults.clone());
    metrics
}

/// The event sources, and the sweep of finished imports' uploads.
async fn start_workers(
    adapters: &Adapters,
    bus: &Bus,
    delivery: &Delivery,
    files: &Arc<EmbeddedFiles>,
) -> Result<Workers, String> {
    let imports = adapters.imports().await.map_err(|e| e.to_string())?;
    tokio::spawn(crate::uploads::sweep(files.clone(), imports));
    let processor = Processor::new(adapters).await.map_err(|e| e.to_string())?;
    let notifier = NotifyCarrier::new(adapters)
        .await
        .map_err(|e| e.to_string())?;
    let importer = ImportCatalog::new(adapters)
        .await
        .map_err(|e| e.to_string())?;
    let reconciler = Reconciler::new(adapters).await.map_err(|e| e.to_string())?;
    let functions = crate::workers::Functions {
        processor,
        notifier,
        importer,
        reconciler,
    };
    Ok(Workers::start(bus, functions, delivery))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

fn banner(port: u16, dir: &Path, key: &token_signer::SigningKey, seed: Seed) -> Result<(), String> {
    let url = format!("http://127.0.0.1:{port}");
    let mut out = String::new();
    out.push_str(&format!("delivery-local listening on {url}\n"));
    out.push_str(&format!(
        "the web page: open {url}/ in a browser and pick a demo principal\n"
    ));
    out.push_str(&format!(
        "data dir: {}{}\n\n",
        dir.display(),
        if seed == Seed::Seeded {
            " (demo data seeded)"
        } else {
            ""
        }
    ));
    out.push_str("Tokens (valid 24 h; more with `delivery-local token --help`):\n");
    let mut alice = String::new();
    for demo in tokens::demo_tokens(key)? {
        let (sub, who, token) = (demo.principal.sub, demo.principal.who, demo.token);
        out.push_str(&format!("  {sub} ({who}):\n    {token}\n"));
        if sub == "alice" {
            alice = token;
        }
    }
    out.push_str(&format!(
        "\nTry:\n  curl -H 'Authorization: Bearer {alice}' {url}/products\n\nPress Ctrl-C to stop.\n"
    ));
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    /// A stalled call locally lasts as long as the SDK lets one last in Lambda: the fault layer
    /// (which sits below the composition root and cannot read its constant) states the same
    /// figure, and this is where both are in sight.
    #[test]
    fn a_stall_lasts_the_sdk_operation_timeout() {
        assert_eq!(faults::STALL, composition::SDK_OPERATION_TIMEOUT);
    }
}
