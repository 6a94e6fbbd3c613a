//! `delivery-local`: the whole delivery backend on one machine (ARCHITECTURE.md, "crates/delivery-local"). It is a composition
//! root (the same `composition::Adapters`, pointed at an embedded DynamoDB and the embedded bus,
//! builds the same apps Lambda runs) plus an API Gateway emulator (`gateway`), the event
//! sources (`workers`) and a local-only HTTP surface (`local_routes`, the page). It holds no
//! business logic.

mod audit;
mod gateway;
mod import;
mod local_routes;
mod metrics;
mod policies;
mod seed;
mod serve;
mod simulate;
mod site;
mod tokens;
mod uploads;
mod workers;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// The delivery backend on one machine: the same Lambda handlers behind an API Gateway
/// emulator, on an embedded DynamoDB stored in the data dir. No AWS account needed.
#[derive(Parser)]
#[command(
    name = "delivery-local",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Options of `serve`, the default subcommand.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the whole system on http://127.0.0.1:PORT (the default subcommand).
    Serve(ServeArgs),
    /// Print a bearer token (alone on stdout) signed with this data dir's key, the key the
    /// server trusts.
    Token(TokenArgs),
    /// Flood the running server with synthetic orders (some malformed) and report what
    /// became of them, with a progress bar and the rate.
    Simulate(SimulateArgs),
    /// Import a company's products from a CSV or JSON-lines file through the running server
    /// (POST /imports, the upload, then the report), and print the report.
    Import(ImportArgs),
}

#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Port to listen on, on 127.0.0.1 only (0 picks a free one).
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// Where the embedded database and the signing key live.
    #[arg(long, default_value = "./.delivery")]
    pub data_dir: PathBuf,
    /// Start with empty data (the signing key is kept, so earlier tokens stay valid).
    #[arg(long)]
    pub fresh: bool,
    /// Faults to inject, as AWS fails (docs/rehearsal.md): `none`, `default` (every fault at a few
    /// percent: a realistic bad day), or `name=probability,...` with names dynamodb.conflict,
    /// dynamodb.throttle, dynamodb.error, sqs.send, sqs.duplicate, sns.publish, sms.fail,
    /// lambda.crash, lambda.timeout, and the stalls dynamodb.stall, sqs.stall, sns.stall,
    /// sms.stall, s3.stall (answered after the SDK's 5 s operation timeout), and sns.lose (an
    /// event the topic accepts and never delivers: not in `default`; the reconciler heals it).
    /// `GET /_local/faults` counts what was injected.
    #[arg(long, default_value = "none", value_parser = parse_faults)]
    pub faults: faults::FaultSpec,
    /// Seed of the faults' draws, to repeat a run (random when not given; the banner says it).
    #[arg(long)]
    pub faults_seed: Option<u64>,
    /// The orders and notifications queues' visibility timeout in seconds (30 and 10 when not
    /// given). It bounds each invocation too; a short one brings a failed or crashed message
    /// back sooner in a rehearsal. The imports queue keeps its own, the importer's.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=43_200))]
    pub visibility_timeout: Option<u64>,
    /// DynamoDB's per-item write limit, in write units a second per item (a transactional
    /// write costs 2 per item, a standard one 1), with one second of burst: past it a write is
    /// throttled as DynamoDB throttles a hot key. In AWS it is 1,000; 50 stands for it here
    /// (docs/rehearsal.md). Off when not given; it combines with --faults.
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
    pub item_write_limit: Option<u32>,
    /// Concurrent order-processor invocations, each on a batch of up to 10 orders: Lambda's
    /// event source runs as many as its pollers allow, and a sale provisions more of them
    /// (docs/deploy.md, "Preparing for a sale").
    #[arg(long, default_value_t = workers::ORDER_WORKERS, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub processor_concurrency: u16,
    /// How often the reconciler runs, in seconds: EventBridge Scheduler runs it every 300 in
    /// AWS (docs/operations.md, "The reconciler").
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub reconcile_every: u64,
    /// How long an accepted order may wait for its SMS before the reconciler announces it
    /// again, in seconds (600 in AWS); a rehearsal of lost events shortens it.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub reconcile_after: u64,
}

fn parse_faults(spec: &str) -> Result<faults::FaultSpec, String> {
    spec.parse()
}

#[derive(Args)]
pub struct TokenArgs {
    /// The principal: a customer id, or a company user's id.
    #[arg(long)]
    pub sub: String,
    /// Space-separated scopes, e.g. "products:read orders:write".
    #[arg(long)]
    pub scope: String,
    /// The company a company user acts for (needed for products:write).
    #[arg(long)]
    pub company: Option<String>,
    /// Lifetime in seconds, at most ten years either way; a negative value makes an already
    /// expired token (for tests).
    #[arg(long, default_value_t = 3600, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(-315_360_000..=315_360_000))]
    pub expires_in: i64,
    /// The data dir whose signing key signs the token.
    #[arg(long, default_value = "./.delivery")]
    pub data_dir: PathBuf,
}

#[derive(Args)]
pub struct SimulateArgs {
    /// How many orders (1 to 10000).
    #[arg(long)]
    pub orders: u32,
    /// Share of deliberately malformed messages, from 0 to 1 (they land in the DLQ).
    #[arg(long, default_value_t = 0.0)]
    pub invalid_ratio: f64,
    /// Seed for a repeatable simulation.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A flash sale: every order is for this one product, quantity 1.
    #[arg(long, value_name = "PRODUCT")]
    pub hot: Option<String>,
    /// The port the server listens on.
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// The server's data dir (its key signs the operator token).
    #[arg(long, default_value = "./.delivery")]
    pub data_dir: PathBuf,
}

#[derive(Args)]
pub struct ImportArgs {
    /// The file: CSV with the header id,name,description,price_amount,price_currency,stock,available
    /// (description and available optional), or one JSON product per line.
    pub file: PathBuf,
    /// The company whose products the file writes.
    #[arg(long)]
    pub company: String,
    /// csv or jsonl (by default, from the file's extension).
    #[arg(long)]
    pub format: Option<String>,
    /// The port the server listens on.
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// The server's data dir (its key signs the company's token).
    #[arg(long, default_value = "./.delivery")]
    pub data_dir: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Token(args)) => tokens::print_token(&args),
        Some(Command::Serve(args)) => serve::run(args),
        Some(Command::Simulate(args)) => simulate::run(&args),
        Some(Command::Import(args)) => import::run(&args),
        None => serve::run(cli.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("delivery-local: {e}");
            ExitCode::FAILURE
        }
    }
}
