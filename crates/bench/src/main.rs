//! `bench`, run by `scripts/bench` (which builds the release binaries and starts
//! `delivery-local` and the SQS/SNS emulator): `bench functions` measures every function under
//! the Runtime API emulator, `bench api` loads `delivery-local`'s API at fixed open-loop rates.

use std::path::PathBuf;
use std::time::Duration;

use bench::functions::{self, Measurement, Subject};
use bench::{load, setup};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Cold start, warm invocations, peak RSS and zip size of every function.
    Functions(setup::FunctionsArgs),
    /// Open-loop latency of delivery-local's API at fixed rates.
    Api(ApiArgs),
    /// From each order's 202 to its SMS, with orders placed through the API at fixed rates.
    Latency(LatencyArgs),
    /// The store's own rate of the processor's order transaction: the pipeline's ceiling.
    Store(StoreArgs),
    /// import-catalog on CSV files of N rows in the S3 emulator: time and peak RSS.
    Import(ImportArgs),
    /// Sets every product's stock (before a pipeline run that should accept, or reject, all).
    Stock {
        /// delivery-local's URL.
        #[arg(long)]
        delivery_local: String,
        /// The stock every product gets.
        #[arg(long)]
        set: u32,
        /// The stock shards every product gets (1-32); unset keeps each product's own.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=32))]
        shards: Option<u8>,
    },
}

#[derive(clap::Args)]
struct StoreArgs {
    /// delivery-local's URL (its DynamoDB endpoint and table names).
    #[arg(long)]
    delivery_local: String,
    /// Concurrent writers, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    concurrency: Vec<usize>,
    /// Seconds per run.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Where the JSON goes.
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct ImportArgs {
    /// delivery-local's URL (its DynamoDB, settings and API).
    #[arg(long)]
    delivery_local: String,
    /// The S3 emulator's URL (moto).
    #[arg(long)]
    aws_endpoint: String,
    /// A token of acme's (products:write, company acme).
    #[arg(long)]
    company_token: String,
    /// Rows per file, one import each.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    rows: Vec<u64>,
    /// Where the release binaries are.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Where the JSON goes.
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct LatencyArgs {
    /// delivery-local's URL.
    #[arg(long)]
    url: String,
    /// A customer's token (orders:write).
    #[arg(long)]
    token: String,
    /// Orders per second, one run each.
    #[arg(long, value_delimiter = ',', default_value = "50,100,200")]
    rates: Vec<u32>,
    /// Seconds per run.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Where the JSON goes.
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct ApiArgs {
    /// delivery-local's URL.
    #[arg(long)]
    url: String,
    /// A customer's token (products:read orders:write).
    #[arg(long)]
    token: String,
    /// Requests per second, one run each.
    #[arg(long, value_delimiter = ',', default_value = "250,500,1000,2000")]
    rates: Vec<u32>,
    /// Seconds per run.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Where the JSON goes.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    match Cli::parse().command {
        Command::Functions(args) => functions(&runtime, &args),
        Command::Api(args) => api(&runtime, &args),
        Command::Latency(args) => latency(&runtime, &args),
        Command::Import(args) => import(&runtime, &args),
        Command::Store(args) => store(&runtime, &args),
        Command::Stock {
            delivery_local,
            set,
            shards,
        } => {
            let (endpoint, tables) = setup::store_of(&delivery_local)?;
            let n = runtime.block_on(bench::store::set_stock(&endpoint, tables, set, shards))?;
            let over = shards
                .map(|s| format!(" over {s} shards"))
                .unwrap_or_default();
            eprintln!("{n} products now have a stock of {set}{over}");
            Ok(())
        }
    }
}

/// Every function at this machine's whole CPU, then at each of `--sizes` under its CPU share;
/// with `--tls`, every AWS endpoint behind TLS.
fn functions(runtime: &tokio::runtime::Runtime, args: &setup::FunctionsArgs) -> Result<(), String> {
    let ca_dir = std::env::temp_dir().join(format!("delivery-bench-{}", std::process::id()));
    std::fs::create_dir_all(&ca_dir).map_err(|e| e.to_string())?;
    // The fronts run on the runtime, beside the functions' emulators.
    let authority = args
        .tls
        .then(|| bench::tls::Authority::new(&ca_dir, args.roots_with.as_deref()))
        .transpose()?;
    let mut env = setup::environment(args)?;
    if let Some(authority) = &authority {
        env = runtime.block_on(setup::behind_tls(&env, authority))?;
    }
    let mut measured = run_all(runtime, args, &env, None)?;
    if let Some(python) = &args.python {
        let baseline = python_baseline(runtime, args, python, &ca_dir, &env)?;
        if let Some(rust) = measured.iter().find(|m| m.function == "list-products") {
            eprintln!(
                "start → first poll: Python + boto3 {:.1} ms, list-products {:.1} ms: {:.0}×",
                baseline.start_to_first_poll_ms,
                rust.start_to_first_poll_ms,
                baseline.start_to_first_poll_ms / rust.start_to_first_poll_ms
            );
        }
        measured.push(baseline);
    }
    println!("{}", functions::table(&measured));
    for memory in &args.sizes {
        match bench::cpu_share::CpuShare::create(*memory) {
            Ok(share) => measured.extend(run_all(runtime, args, &env, Some(&share))?),
            Err(why) => eprintln!("{memory} MB: not measured, {why}"),
        }
    }
    if !args.sizes.is_empty() {
        println!("{}", functions::sized_table(&measured));
    }
    let _ = std::fs::remove_dir_all(&ca_dir);
    write(&args.out, &functions::json(&measured))
}

/// list-products' read in Python with boto3, under the same emulator and endpoints.
fn python_baseline(
    runtime: &tokio::runtime::Runtime,
    args: &setup::FunctionsArgs,
    python: &std::path::Path,
    dir: &std::path::Path,
    env: &[(String, String)],
) -> Result<Measurement, String> {
    let (launcher, subject) = setup::python_baseline(python, dir, env)?;
    runtime.block_on(functions::measure(
        &launcher,
        &subject,
        args.invocations,
        None,
    ))
}

/// Every function once, under `share` when given.
fn run_all(
    runtime: &tokio::runtime::Runtime,
    args: &setup::FunctionsArgs,
    env: &[(String, String)],
    share: Option<&bench::cpu_share::CpuShare>,
) -> Result<Vec<Measurement>, String> {
    let mut measured: Vec<Measurement> = Vec::new();
    let size = share.map_or("whole".to_owned(), |s| s.memory_mb.to_string());
    for mut subject in setup::subjects(args, env)? {
        if matches!(subject.name, "place-order" | "order-simulator") {
            let name = format!("bench-orders-{}-{size}", subject.name);
            let queue = setup::fresh_queue(&args.aws_endpoint, &name)?;
            for (key, value) in &mut subject.env {
                if key == "ORDERS_QUEUE_URL" {
                    value.clone_from(&queue);
                }
            }
        }
        measured.push(measure(runtime, args, &subject, share)?);
        if subject.name == "order-processor" && args.measures("notify-carrier") {
            // notify-carrier is run on the orders the processor just accepted.
            let notify = setup::notify_carrier(args, env)?;
            measured.push(measure(runtime, args, &notify, share)?);
        }
    }
    Ok(measured)
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    args: &setup::FunctionsArgs,
    subject: &Subject,
    share: Option<&bench::cpu_share::CpuShare>,
) -> Result<Measurement, String> {
    let binary = args.bin_dir.join(subject.name);
    let invocations = match share {
        Some(_) => args.size_invocations,
        None => args.invocations,
    };
    let mut m = runtime.block_on(functions::measure(&binary, subject, invocations, share))?;
    let zip = args.zip_dir.join(subject.name).join("bootstrap.zip");
    m.zip_mb = std::fs::metadata(zip)
        .ok()
        .map(|z| (z.len() as f64 / 1e4).round() / 100.0);
    let size = share.map_or("whole CPU".to_owned(), |s| format!("{} MB", s.memory_mb));
    eprintln!(
        "{} ({size}): cold {:.1} ms, warm p50 {:.2} ms",
        m.function, m.cold_total_ms, m.warm_p50_ms
    );
    Ok(m)
}

fn api(runtime: &tokio::runtime::Runtime, args: &ApiArgs) -> Result<(), String> {
    let target = args
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("{}: {e}", args.url))?;
    let auth = vec![
        ("authorization".to_owned(), format!("Bearer {}", args.token)),
        ("content-type".to_owned(), "application/json".to_owned()),
    ];
    let request = |method, path: &str, body: Option<Value>| load::Request {
        method,
        path: path.to_owned(),
        headers: auth.clone(),
        body: body.map(|b| b.to_string()),
    };
    let basket = json!({"items": [{"product_id": "pizza-margherita", "quantity": 2}, {"product_id": "garlic-bread", "quantity": 1}]});
    let endpoints = [
        (
            "GET /products/{id}",
            request("GET", "/products/pizza-margherita", None),
        ),
        ("GET /products", request("GET", "/products?limit=20", None)),
        (
            "POST /orders/total",
            request("POST", "/orders/total", Some(basket)),
        ),
    ];
    let mut rows = Vec::new();
    println!(
        "| endpoint | rate | sent | ok | errors | p50 | p99 | max |\n|---|---|---|---|---|---|---|---|"
    );
    for (name, req) in &endpoints {
        for rate in &args.rates {
            let r = runtime.block_on(load::run(
                target,
                req,
                *rate,
                Duration::from_secs_f64(args.seconds),
            ));
            let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
            println!(
                "| {name} | {rate}/s | {} | {} | {} | {:.2} ms | {:.2} ms | {:.2} ms |",
                r.sent,
                r.ok,
                r.errors,
                ms(r.p50),
                ms(r.p99),
                ms(r.max)
            );
            rows.push(json!({"endpoint": name, "rate": rate, "sent": r.sent, "ok": r.ok, "errors": r.errors,
                "p50_ms": ms(r.p50), "p99_ms": ms(r.p99), "max_ms": ms(r.max)}));
        }
    }
    write(&args.out, &json!(rows))
}

fn latency(runtime: &tokio::runtime::Runtime, args: &LatencyArgs) -> Result<(), String> {
    let basket = json!({"items": [{"product_id": "pizza-margherita", "quantity": 1}],
                        "delivery": {"address": "1 Bench St", "phone": "+15550100100"}});
    let mut rows = Vec::new();
    for rate in &args.rates {
        let duration = Duration::from_secs_f64(args.seconds);
        let row = runtime.block_on(bench::latency::measure(
            &args.url,
            &args.token,
            &basket,
            *rate,
            duration,
        ))?;
        eprintln!(
            "{rate} orders/s: order → SMS p50 {:.1} ms, p99 {:.1} ms",
            row.p50_ms, row.p99_ms
        );
        rows.push(row);
    }
    println!("{}", bench::latency::table(&rows));
    write(&args.out, &bench::latency::json(&rows))
}

fn store(runtime: &tokio::runtime::Runtime, args: &StoreArgs) -> Result<(), String> {
    let (endpoint, tables) = setup::store_of(&args.delivery_local)?;
    println!("| writers | orders recorded | errors | orders/s |\n|---|---|---|---|");
    let mut rows = Vec::new();
    for concurrency in &args.concurrency {
        let duration = Duration::from_secs_f64(args.seconds);
        let c = runtime.block_on(bench::store::ceiling(
            &endpoint,
            tables.clone(),
            *concurrency,
            duration,
        ))?;
        println!(
            "| {} | {} | {} | {:.0} |",
            c.concurrency, c.orders, c.errors, c.orders_per_second
        );
        rows.push(c);
    }
    write(&args.out, &json!(rows))
}

fn import(runtime: &tokio::runtime::Runtime, args: &ImportArgs) -> Result<(), String> {
    let env = setup::environment_for_files(&args.delivery_local, &args.aws_endpoint)?;
    let binary = args.bin_dir.join("import-catalog");
    let services = (
        args.delivery_local.as_str(),
        args.aws_endpoint.as_str(),
        args.company_token.as_str(),
    );
    let mut measured = Vec::new();
    for rows in &args.rows {
        let m = runtime.block_on(bench::import::measure(&binary, &env, services, *rows))?;
        eprintln!(
            "import of {rows} rows: {:.2} s, peak RSS {:.1} MB",
            m.seconds, m.peak_rss_mb
        );
        measured.push(m);
    }
    println!("{}", bench::import::table(&measured));
    write(&args.out, &json!(measured))
}

fn write(path: &PathBuf, value: &Value) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(
        path,
        serde_json::to_string_pretty(value).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", path.display()))
}
