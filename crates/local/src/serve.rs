//! `serve`: embedded DynamoDB on the data dir, tables and demo data, the gateway, the banner.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use config::Source;
use store_dynamodb::schema::create_tables;
use store_dynamodb::{DynamoStore, Tables, local_client};
use tokio::net::TcpListener;

use bus_embedded::{
    Bus, EmbeddedQueue, EmbeddedSms, EmbeddedTopic, NOTIFICATIONS, ORDERS, Subscription,
};
use notify_carrier::NotifyCarrier;
use order_processor::Processor;

use crate::gateway::{self, Gateway};
use crate::workers::{self, Counters, CountingTopic};
use crate::{ServeArgs, seed, tokens};

const DB_FILE: &str = "delivery.sqlite";

/// Settings as Lambda gets them, from the environment, with local defaults; the JWT settings
/// are always the data dir's own key, so that `delivery-local token` tokens are trusted.
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
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let dir = &args.data_dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("creating the data dir {}: {e}", dir.display()))?;
    if args.fresh {
        remove_data(dir)?;
    }
    let key = Arc::new(tokens::key(dir)?);

    // DynamoDB: dynoxide on one SQLite file, served in-process on a loopback port and reached
    // through the same aws-sdk-dynamodb adapter production uses.
    let db_path = dir.join(DB_FILE);
    let db = dynoxide::Database::new(&db_path.to_string_lossy())
        .map_err(|e| format!("opening {}: {e}", db_path.display()))?;
    let dynamo_listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("binding DynamoDB: {e}"))?;
    let endpoint = format!(
        "http://{}",
        dynamo_listener.local_addr().map_err(|e| e.to_string())?
    );
    let (stop_dynamo, dynamo_stopped) = tokio::sync::oneshot::channel::<()>();
    let dynamo = tokio::spawn(dynoxide::server::serve_with_shutdown(
        dynamo_listener,
        db,
        async {
            let _ = dynamo_stopped.await;
        },
    ));

    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| {
            format!(
                "cannot listen on 127.0.0.1:{}: {e} (choose another with --port)",
                args.port
            )
        })?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();

    let settings = LocalSettings {
        forced: HashMap::from([
            ("JWKS", key.jwks()),
            ("JWT_ISSUER", tokens::ISSUER.to_owned()),
            ("JWT_AUDIENCE", tokens::AUDIENCE.to_owned()),
        ]),
        defaults: HashMap::from([
            ("PRODUCTS_TABLE", "delivery-products".to_owned()),
            ("ORDERS_TABLE", "delivery-orders".to_owned()),
            ("CARRIERS_TABLE", "delivery-carriers".to_owned()),
            (
                "CORS_ALLOWED_ORIGINS",
                format!("http://127.0.0.1:{port},http://localhost:{port}"),
            ),
        ]),
    };
    let tables = Tables::from_env(&settings).map_err(|e| e.to_string())?;
    let store = DynamoStore::new(local_client(&endpoint), tables);
    create_tables(store.client(), store.tables())
        .await
        .map_err(|e| format!("creating tables: {e}"))?;
    let seeded = seed::seed_if_empty(&store)
        .await
        .map_err(|e| format!("seeding demo data: {e}"))?;

    // The queue, topic and SMS outbox live in the same database file.
    let bus = Bus::open(&db_path).map_err(|e| format!("opening the message bus: {e}"))?;
    for queue in [ORDERS.name, NOTIFICATIONS.name] {
        bus.release_in_flight(queue)
            .map_err(|e| format!("recovering the {queue} queue: {e}"))?;
    }
    let counters = Arc::new(Counters::default());
    let topic = EmbeddedTopic {
        bus: bus.clone(),
        subscriptions: vec![Subscription {
            queue: NOTIFICATIONS.name,
            type_filter: Some("order.accepted"),
        }],
    };
    let store_port = Arc::new(store.clone());
    let processor = Arc::new(Processor {
        catalog: store_port.clone(),
        orders: store_port.clone(),
        queue: Arc::new(EmbeddedQueue {
            bus: bus.clone(),
            queue: ORDERS.name,
        }),
        events: Arc::new(CountingTopic {
            topic,
            counters: counters.clone(),
        }),
    });
    let notifier = Arc::new(NotifyCarrier {
        orders: store_port.clone(),
        carriers: store_port,
        sms: Arc::new(EmbeddedSms { bus: bus.clone() }),
    });
    let (stop_workers, stopping) = tokio::sync::watch::channel(false);
    let mut worker_tasks = Vec::new();
    for _ in 0..workers::ORDER_WORKERS {
        worker_tasks.push(tokio::spawn(workers::orders(
            bus.clone(),
            processor.clone(),
            stopping.clone(),
        )));
    }
    worker_tasks.push(tokio::spawn(workers::notifications(
        bus.clone(),
        notifier,
        stopping,
    )));

    let gateway = Arc::new(
        Gateway::new(&settings, store, bus, counters, key.clone()).map_err(|e| e.to_string())?,
    );
    banner(port, dir, &key, seeded)?;

    axum::serve(listener, gateway::router(gateway))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("serving: {e}"))?;
    // Let the workers finish the batch in hand: what they have not acknowledged is redelivered.
    let _ = stop_workers.send(true);
    for task in worker_tasks {
        let _ = task.await;
    }
    let _ = stop_dynamo.send(());
    let _ = dynamo.await;
    tracing::info!("stopped");
    Ok(())
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

fn banner(
    port: u16,
    dir: &Path,
    key: &token_signer::SigningKey,
    seeded: bool,
) -> Result<(), String> {
    let url = format!("http://127.0.0.1:{port}");
    let mut out = String::new();
    out.push_str(&format!("delivery-local listening on {url}\n"));
    out.push_str(&format!(
        "the web page: open {url}/ in a browser and pick a demo principal\n"
    ));
    out.push_str(&format!(
        "data dir: {}{}\n\n",
        dir.display(),
        if seeded { " (demo data seeded)" } else { "" }
    ));
    out.push_str("Tokens (valid 24 h; more with `delivery-local token --help`):\n");
    let mut alice = String::new();
    for ((sub, who, _, _), token) in tokens::demo_tokens(key)? {
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
