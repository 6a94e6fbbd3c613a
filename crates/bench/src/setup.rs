//! What `bench functions` runs each function with: the settings `delivery-local` gives its
//! own functions (its DynamoDB, seeded), an SQS queue and SNS topic on the emulator, and an
//! event like the ones Lambda hands it.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::events;
use crate::functions::{EventFor, Subject};

#[derive(clap::Args)]
pub struct FunctionsArgs {
    /// delivery-local's URL (its DynamoDB, settings and API).
    #[arg(long)]
    pub delivery_local: String,
    /// The SQS/SNS emulator's URL (moto).
    #[arg(long)]
    pub aws_endpoint: String,
    /// A customer's token from delivery-local (alice: products:read orders:write orders:read).
    #[arg(long)]
    pub token: String,
    /// Where the release binaries are.
    #[arg(long, default_value = "target/release")]
    pub bin_dir: PathBuf,
    /// Where `scripts/package` leaves the zips, if it ran.
    #[arg(long, default_value = "target/lambda")]
    pub zip_dir: PathBuf,
    /// Warm invocations per function.
    #[arg(long, default_value_t = 200)]
    pub invocations: usize,
    /// Memory sizes (MB) to measure every function at again, each under its CPU share (a
    /// CPU quota in a control group); none, this machine's whole CPU only.
    #[arg(long, value_delimiter = ',')]
    pub sizes: Vec<u32>,
    /// Warm invocations per function at each size.
    #[arg(long, default_value_t = 50)]
    pub size_invocations: usize,
    /// Puts DynamoDB and the SQS/SNS emulator behind TLS, as AWS is: a certificate authority
    /// made for the run, which the functions trust through `SSL_CERT_FILE`.
    #[arg(long)]
    pub tls: bool,
    /// With `--tls`: a CA bundle whose certificates join the run's authority in the functions'
    /// `SSL_CERT_FILE`, so that they read as many roots as a whole system bundle holds (Amazon
    /// Linux 2023's `/etc/pki/tls/certs/ca-bundle.crt`, about 140): what trusting the system's
    /// roots rather than the compiled-in five costs a start.
    #[arg(long, requires = "tls")]
    pub roots_with: Option<PathBuf>,
    /// A Python with boto3 and awslambdaric: list-products is then measured against the same
    /// read in Python (`crates/bench/python/list_products.py`), under the same emulator.
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Only these functions (a lever measured on a few); none, every function.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Where the JSON goes.
    #[arg(long)]
    pub out: PathBuf,
}

impl FunctionsArgs {
    /// Whether `function` is measured in this run.
    pub fn measures(&self, function: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == function)
    }
}

const ALICE: (&str, &str, Option<&str>) = ("alice", "products:read orders:write orders:read", None);
const ACME: (&str, &str, Option<&str>) =
    ("acme-admin", "products:read products:write", Some("acme"));
/// Products with stock enough for hundreds of one-item orders.
const STOCKED: [&str; 3] = ["sparkling-water", "garlic-bread", "pizza-margherita"];

fn get(url: &str, token: Option<&str>) -> Result<Value, String> {
    let mut request = ureq::get(url);
    if let Some(token) = token {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    request
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?
        .body_mut()
        .read_json()
        .map_err(|e| format!("GET {url}: {e}"))
}

/// delivery-local's DynamoDB endpoint and table names.
pub fn store_of(delivery_local: &str) -> Result<(String, store_dynamodb::Tables), String> {
    let local = get(&format!("{delivery_local}/_local/environment"), None)?;
    let setting = |name: &str| {
        local["settings"][name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("delivery-local gives no {name}"))
    };
    let tables = store_dynamodb::Tables {
        products: setting("PRODUCTS_TABLE")?,
        orders: setting("ORDERS_TABLE")?,
        carriers: setting("CARRIERS_TABLE")?,
    };
    let endpoint = local["dynamodb_endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok((endpoint, tables))
}

/// `Action=…` on the emulator's query API for `service`; the text of `<element>` in its answer.
/// (The emulator serves every service on one port and tells them apart by the credential scope.)
fn create(
    endpoint: &str,
    service: &str,
    form: &[(&str, &str)],
    element: &str,
) -> Result<String, String> {
    let scope = format!(
        "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
    );
    let text = ureq::post(endpoint)
        .header("authorization", &scope)
        .send_form(form.iter().copied())
        .map_err(|e| format!("{form:?}: {e}"))?
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let open = format!("<{element}>");
    let start = text
        .find(&open)
        .ok_or_else(|| format!("no {element} in {text}"))?
        + open.len();
    let end = text[start..].find('<').ok_or("unterminated")? + start;
    Ok(text[start..end].to_owned())
}

/// A new, empty queue `name` on the emulator, its URL: moto's `SendMessage` slows as a queue
/// grows, so a function that sends (place-order, order-simulator) gets a queue of its own for
/// each run instead of the one the runs before it filled.
pub fn fresh_queue(endpoint: &str, name: &str) -> Result<String, String> {
    create(
        endpoint,
        "sqs",
        &[
            ("Action", "CreateQueue"),
            ("QueueName", name),
            ("Version", "2012-11-05"),
        ],
        "QueueUrl",
    )
}

/// delivery-local's settings, its DynamoDB endpoint, and S3 on the emulator (for import-catalog).
pub fn environment_for_files(
    delivery_local: &str,
    aws: &str,
) -> Result<Vec<(String, String)>, String> {
    let local = get(&format!("{delivery_local}/_local/environment"), None)?;
    let mut env: Vec<(String, String)> = local["settings"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect();
    env.extend([
        (
            "AWS_ENDPOINT_URL_DYNAMODB".to_owned(),
            local["dynamodb_endpoint"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ),
        // S3 (path style, as composition chooses when the SDK has an endpoint of its own).
        ("AWS_ENDPOINT_URL".to_owned(), aws.to_owned()),
    ]);
    Ok(env)
}

/// Every setting a function reads, pointed at delivery-local's DynamoDB and the emulator
/// (read and created once per run).
pub fn environment(args: &FunctionsArgs) -> Result<Vec<(String, String)>, String> {
    let aws = args.aws_endpoint.as_str();
    let mut env = environment_for_files(&args.delivery_local, aws)?;
    let queue = |name| {
        create(
            aws,
            "sqs",
            &[
                ("Action", "CreateQueue"),
                ("QueueName", name),
                ("Version", "2012-11-05"),
            ],
            "QueueUrl",
        )
    };
    let topic = create(
        aws,
        "sns",
        &[
            ("Action", "CreateTopic"),
            ("Name", "bench-order-events"),
            ("Version", "2010-03-31"),
        ],
        "TopicArn",
    )?;
    env.extend([
        ("ORDERS_QUEUE_URL".to_owned(), queue("bench-orders")?),
        ("ORDERS_DLQ_URL".to_owned(), queue("bench-orders-dlq")?),
        ("EVENTS_TOPIC_ARN".to_owned(), topic),
        ("AWS_ENDPOINT_URL_SQS".to_owned(), aws.to_owned()),
        ("AWS_ENDPOINT_URL_SNS".to_owned(), aws.to_owned()),
    ]);
    Ok(env)
}

fn fixed(event: Value) -> EventFor {
    Box::new(move |_| event.clone())
}

/// The HTTP functions' events: a customer reads, bills and orders; a company writes.
fn http_events() -> Vec<(&'static str, EventFor)> {
    let basket = json!({"items": [{"product_id": "pizza-margherita", "quantity": 2},
                                  {"product_id": "garlic-bread", "quantity": 1}]});
    let order = json!({"items": [{"product_id": "tiramisu", "quantity": 1}],
                       "delivery": {"address": "1 Bench Street", "phone": "+15551234567"}});
    let product = ("GET", "/products/{id}", "/products/pizza-margherita");
    vec![
        ("list-products", fixed(events::http(product, ALICE, None))),
        (
            "order-total",
            fixed(events::http(
                ("POST", "/orders/total", "/orders/total"),
                ALICE,
                Some(basket),
            )),
        ),
        (
            "update-product",
            Box::new(|i| {
                let stock = json!({"stock": 30 + i % 10});
                events::http(
                    ("PATCH", "/products/{id}", "/products/tiramisu"),
                    ACME,
                    Some(stock),
                )
            }),
        ),
        (
            "start-import",
            fixed(events::http(
                (
                    "GET",
                    "/imports/{id}",
                    "/imports/3f2b7c1e-8d4a-4c57-9a3c-6f0e8d21b7c4",
                ),
                ACME,
                None,
            )),
        ),
        (
            "get-order",
            fixed(events::http(("GET", "/orders", "/orders"), ALICE, None)),
        ),
        (
            "place-order",
            fixed(events::http(
                ("POST", "/orders", "/orders"),
                ALICE,
                Some(order),
            )),
        ),
    ]
}

/// Every function but notify-carrier (which needs the orders the processor accepts).
pub fn subjects(args: &FunctionsArgs, env: &[(String, String)]) -> Result<Vec<Subject>, String> {
    let token = args.token.clone();
    let mut runs: Vec<(&'static str, EventFor)> =
        vec![("authorizer", Box::new(move |_| events::authorizer(&token)))];
    runs.extend(http_events());
    runs.push((
        "order-simulator",
        fixed(json!({"orders": 10, "invalid_ratio": 0})),
    ));
    runs.push(("reconciler", fixed(json!({"reconcile": "scheduled"}))));
    runs.push((
        "order-processor",
        Box::new(|i| events::order_placed("alice", STOCKED[i % STOCKED.len()]).1),
    ));
    Ok(runs
        .into_iter()
        .filter(|(name, _)| args.measures(name))
        .map(|(name, event)| Subject {
            name,
            env: env.to_vec(),
            event,
        })
        .collect())
}

/// notify-carrier, on the orders the processor accepted (as `GET /orders` shows them).
pub fn notify_carrier(args: &FunctionsArgs, env: &[(String, String)]) -> Result<Subject, String> {
    let listed = get(
        &format!("{}/orders?limit=100", args.delivery_local),
        Some(&args.token),
    )?;
    let accepted: Vec<Value> = listed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["status"] == "accepted")
        .cloned()
        .collect();
    if accepted.is_empty() {
        return Err("no accepted order to notify a carrier of".to_owned());
    }
    Ok(Subject {
        name: "notify-carrier",
        env: env.to_vec(),
        event: Box::new(move |i| events::order_accepted(&accepted[i % accepted.len()])),
    })
}

/// The environment `env`, its AWS endpoints moved behind TLS fronts of `authority` (one front
/// per upstream), and `SSL_CERT_FILE` naming the authority.
pub async fn behind_tls(
    env: &[(String, String)],
    authority: &crate::tls::Authority,
) -> Result<Vec<(String, String)>, String> {
    let mut fronts: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut moved = Vec::with_capacity(env.len() + 1);
    for (name, value) in env {
        let endpoint = name.starts_with("AWS_ENDPOINT_URL") && value.starts_with("http://");
        if !endpoint {
            moved.push((name.clone(), value.clone()));
            continue;
        }
        if !fronts.contains_key(value) {
            fronts.insert(value.clone(), authority.front(value).await?);
        }
        moved.push((name.clone(), fronts[value].clone()));
    }
    moved.retain(|(name, _)| name != "SSL_CERT_FILE");
    moved.push((
        "SSL_CERT_FILE".to_owned(),
        authority.ca_file.display().to_string(),
    ));
    Ok(moved)
}

/// The Python baseline of list-products (`--python`): a launcher in `dir` that becomes
/// `python -m awslambdaric` over the handler, and list-products' environment with boto3 told
/// to trust the run's roots (`AWS_CA_BUNDLE`: boto3 reads no `SSL_CERT_FILE`).
pub fn python_baseline(
    python: &std::path::Path,
    dir: &std::path::Path,
    env: &[(String, String)],
) -> Result<(PathBuf, Subject), String> {
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    std::fs::write(
        dir.join("list_products.py"),
        include_str!("../python/list_products.py"),
    )
    .map_err(io)?;
    let launcher = dir.join("list-products-python");
    let script = format!(
        "#!/bin/sh\nPYTHONPATH='{}' exec '{}' -m awslambdaric list_products.handler\n",
        dir.display(),
        python.display()
    );
    std::fs::write(&launcher, script).map_err(io)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    let mut env = env.to_vec();
    if let Some((_, roots)) = env.iter().find(|(k, _)| k == "SSL_CERT_FILE").cloned() {
        env.push(("AWS_CA_BUNDLE".to_owned(), roots));
    }
    let product = ("GET", "/products/{id}", "/products/pizza-margherita");
    let subject = Subject {
        name: "list-products (Python)",
        env,
        event: fixed(events::http(product, ALICE, None)),
    };
    Ok((launcher, subject))
}
