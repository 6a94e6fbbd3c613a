//! `order-simulator`: floods the orders queue with synthetic orders to rehearse a
//! sales spike. Valid orders use real catalog products and `sim-*` customers; a chosen share
//! are malformed messages of several kinds put straight on the queue, to exercise the
//! dead-letter path. Messages go in batches of 10, several batches at once; failed entries are
//! retried. Reachable as `POST /simulations` and as a direct Lambda invocation.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use composition::lambda::EventFunction;
use composition::{Adapters, App};
use domain::auth::Function;
use domain::order::{OrderPlaced, OrderRequest, Quote};
use domain::ports::{Catalog, OrderQueue, OutgoingMessage, PageRequest};
use domain::product::Product;
use domain::validation::{FieldErrors, JsonObject, Presence};
use domain::{CustomerId, Error, OrderId, PortError, ProductId};
use futures::StreamExt;
use http_kit::{ApiRequest, Endpoint, HttpFunction, Reply};
use lambda_runtime::Diagnostic;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};
use retry_policy::PIPELINE;
use serde::Serialize;
use serde_json::{Value, json};
use settings::ConfigError;

pub const MAX_ORDERS: u32 = 10_000;
/// Synthetic customers are `sim-0` … `sim-{CUSTOMERS - 1}`.
pub const CUSTOMERS: u32 = 50;
/// Batches in flight at once.
const CONCURRENCY: usize = 16;

pub struct Simulator {
    pub catalog: Arc<dyn Catalog>,
    pub queue: Arc<dyn OrderQueue>,
}

impl App for Simulator {
    const NAME: &'static str = "order-simulator";

    async fn new(adapters: &Adapters) -> Result<Simulator, ConfigError> {
        Ok(Simulator {
            catalog: adapters.catalog().await?,
            queue: adapters.order_queue().await?,
        })
    }
}

/// A validated simulation request.
#[derive(Clone, Debug, PartialEq)]
pub struct Simulation {
    pub orders: u32,
    pub invalid_ratio: f64,
    pub seed: Option<u64>,
    /// A flash sale: every order is for this one product, quantity 1 (otherwise orders of one
    /// to three lines across the available catalog).
    pub hot: Option<ProductId>,
}

impl Simulation {
    /// `{"orders": 1..=10000, "invalid_ratio": 0..=1 (default 0), "seed": u64 (optional),
    /// "product": a product id (optional)}`.
    pub fn from_json(body: &Value) -> Result<Simulation, Vec<domain::validation::FieldError>> {
        let mut errors = FieldErrors::default();
        let Some(obj) = JsonObject::root(body, &mut errors) else {
            return Err(errors.into_vec());
        };
        obj.deny_unknown(&["orders", "invalid_ratio", "seed", "product"], &mut errors);
        let orders = obj.integer(
            "orders",
            Presence::Required,
            (1, i64::from(MAX_ORDERS)),
            &mut errors,
        );
        let ratio = match body.get("invalid_ratio") {
            None => Some(0.0),
            Some(v) => match v.as_f64() {
                Some(r) if (0.0..=1.0).contains(&r) => Some(r),
                _ => {
                    errors.add("invalid_ratio", "must be a number from 0 to 1");
                    None
                }
            },
        };
        let seed = match body.get("seed") {
            None | Some(Value::Null) => Some(None),
            Some(v) => match v.as_u64() {
                Some(s) => Some(Some(s)),
                None => {
                    errors.add("seed", "must be a non-negative integer");
                    None
                }
            },
        };
        let hot = match body.get("product") {
            None | Some(Value::Null) => Some(None),
            Some(v) => match v.as_str().map(ProductId::parse) {
                Some(Ok(id)) => Some(Some(id)),
                _ => {
                    errors.add("product", "must be a product id");
                    None
                }
            },
        };
        errors.finish(|| {
            Some(Simulation {
                orders: orders? as u32,
                invalid_ratio: ratio?,
                seed: seed?,
                hot: hot?,
            })
        })
    }

    /// How many of the orders are malformed: the ratio of the total, rounded.
    pub fn invalid_count(&self) -> u32 {
        (f64::from(self.orders) * self.invalid_ratio).round() as u32
    }
}

/// What a simulation put on the queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub enqueued: u32,
    pub invalid: u32,
    /// The valid orders' ids, so that a rehearsal can check each one's fate in the stores.
    pub order_ids: Vec<OrderId>,
}

/// The kinds of malformed message, each refused by the processor's validation.
const MALFORMED_KINDS: usize = 5;

fn malformed(kind: usize, valid: &OrderPlaced) -> String {
    let mut v = serde_json::to_value(valid).unwrap_or(Value::Null);
    match kind {
        0 => return "{\"type\": \"order.placed\", \"version\": 1, \"order_id\": ".to_owned(), // bad JSON
        1 => {
            v["version"] = json!("1"); // wrong types
            v["items"][0]["quantity"] = json!("two");
        }
        2 => {
            if let Some(o) = v.as_object_mut() {
                o.remove("customer_id"); // missing fields
                o.remove("delivery");
            }
        }
        3 => v["items"][0]["quantity"] = json!(-2), // negative quantity
        _ => v["items"][0]["product_id"] = json!("no such product!"), // unknown (impossible) product
    }
    v.to_string()
}

/// Every available product of the catalog.
async fn products(catalog: &dyn Catalog) -> Result<Vec<Product>, PortError> {
    let mut all = Vec::new();
    let mut page = PageRequest {
        limit: 100,
        cursor: None,
    };
    loop {
        let listed = PIPELINE
            .run("list the catalog", PortError::is_transient, || {
                catalog.list(None, &page)
            })
            .await?;
        all.extend(listed.items.into_iter().filter(|p| p.available));
        match listed.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return Ok(all),
        }
    }
}

/// The products a simulation orders: every available one, or the sale's one product (which
/// must exist and be available).
async fn offered(catalog: &dyn Catalog, sim: &Simulation) -> Result<Vec<Product>, Error> {
    let Some(hot) = &sim.hot else {
        return Ok(products(catalog).await?);
    };
    let product = PIPELINE
        .run("read the product on sale", PortError::is_transient, || {
            catalog.get(hot)
        })
        .await?;
    match product {
        Some(p) if p.available => Ok(vec![p]),
        _ => Err(Error::Unprocessable(vec![
            domain::validation::FieldError::new("product", "is not an available product"),
        ])),
    }
}

fn valid_order(
    rng: &mut StdRng,
    products: &[Product],
    catalog: &HashMap<ProductId, Product>,
    n: u32,
    hot: bool,
) -> Option<OrderPlaced> {
    let customer = CustomerId::parse(&format!("sim-{}", rng.random_range(0..CUSTOMERS))).ok()?;
    let lines = rng.random_range(1..=3usize).min(products.len());
    let items: Vec<Value> = products
        .sample(rng, lines)
        .map(|p| {
            let quantity = if hot { 1 } else { rng.random_range(1..=3u32) };
            json!({"product_id": p.id, "quantity": quantity})
        })
        .collect();
    let body = json!({"items": items, "delivery": {
        "address": format!("{} Simulation Avenue, Testville", n + 1),
        "phone": format!("+1555{:07}", rng.random_range(0..10_000_000u32)),
    }});
    let request = OrderRequest::from_json(&body).ok()?;
    // Quoted at the catalog's prices, as place-order quotes a customer (none across currencies:
    // such an order is rejected when processed).
    let quote = Quote::at_prices(&request.basket, catalog);
    Some(OrderPlaced::new(
        OrderId::for_request(&customer, None),
        customer,
        &request,
        quote,
        Utc::now(),
    ))
}

/// Sends one batch, retrying (with the pipeline's backoff) the entries that failed.
async fn send(queue: &dyn OrderQueue, batch: Vec<OutgoingMessage>) -> Result<u32, PortError> {
    let total = batch.len() as u32;
    let pending = std::sync::Mutex::new(batch);
    let attempt = || async {
        let batch = pending.lock().map(|b| b.clone()).unwrap_or_default();
        let failures = queue.send_batch(&batch).await?;
        if let Some(f) = failures.iter().find(|f| !f.transient) {
            return Err(PortError::Permanent(format!(
                "entry {} refused: {}",
                f.id, f.reason
            )));
        }
        if failures.is_empty() {
            return Ok(total);
        }
        if let Ok(mut pending) = pending.lock() {
            pending.retain(|m| failures.iter().any(|f| f.id == m.id));
        }
        Err(PortError::Transient(format!(
            "{} of the batch's messages refused",
            failures.len()
        )))
    };
    PIPELINE
        .run("enqueue a batch", PortError::is_transient, attempt)
        .await
}

/// Runs a simulation: generates the orders and puts them on the queue.
pub async fn simulate(
    catalog: &dyn Catalog,
    queue: &dyn OrderQueue,
    sim: &Simulation,
) -> Result<Outcome, Error> {
    let products = offered(catalog, sim).await?;
    if products.is_empty() {
        return Err(Error::Unprocessable(vec![
            domain::validation::FieldError::new("orders", "the catalog has no available product"),
        ]));
    }
    let seed = sim.seed.unwrap_or_else(rand::random);
    let (bodies, order_ids) = generate(sim, &products, seed)?;
    let batches: Vec<Vec<OutgoingMessage>> = bodies
        .chunks(10)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .map(|(i, body)| OutgoingMessage {
                    id: i.to_string(),
                    body: body.clone(),
                })
                .collect()
        })
        .collect();
    let results: Vec<Result<u32, PortError>> = futures::stream::iter(batches)
        .map(|batch| send(queue, batch))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut enqueued = 0;
    for result in results {
        enqueued += result?;
    }
    let invalid = sim.invalid_count();
    // The valid ones are orders placed, as place-order counts its own.
    telemetry::record(
        telemetry::metric::ORDERS_PLACED,
        (enqueued - invalid.min(enqueued)) as f64,
        telemetry::Unit::Count,
    );
    tracing::info!(enqueued, invalid, seed, "simulation enqueued");
    Ok(Outcome {
        enqueued,
        invalid,
        order_ids,
    })
}

/// The messages of a simulation, the chosen share malformed, and the valid orders' ids.
fn generate(
    sim: &Simulation,
    products: &[Product],
    seed: u64,
) -> Result<(Vec<String>, Vec<OrderId>), Error> {
    let mut rng = StdRng::seed_from_u64(seed);
    let invalid = sim.invalid_count();
    let mut is_invalid: Vec<bool> = (0..sim.orders).map(|i| i < invalid).collect();
    is_invalid.shuffle(&mut rng);
    let mut bodies = Vec::with_capacity(sim.orders as usize);
    let mut order_ids = Vec::with_capacity(sim.orders as usize);
    let catalog: HashMap<ProductId, Product> =
        products.iter().map(|p| (p.id.clone(), p.clone())).collect();
    for (n, bad) in is_invalid.iter().enumerate() {
        let order = valid_order(&mut rng, products, &catalog, n as u32, sim.hot.is_some())
            .ok_or_else(|| Error::Internal("generating an order".to_owned()))?;
        let body = if *bad {
            malformed(n % MALFORMED_KINDS, &order)
        } else {
            order_ids.push(order.order_id);
            serde_json::to_string(&order).map_err(|e| Error::Internal(e.to_string()))?
        };
        bodies.push(body);
    }
    Ok((bodies, order_ids))
}

/// `POST /simulations`.
impl HttpFunction for Simulator {
    const FUNCTION: Function = Function::OrderSimulator;

    async fn handle(&self, request: ApiRequest) -> Result<Reply, Error> {
        let sim = request.json(Simulation::from_json)?;
        let outcome = simulate(self.catalog.as_ref(), self.queue.as_ref(), &sim).await?;
        Ok(Reply::json(202, &outcome))
    }
}

impl Simulator {
    /// A direct invocation with the same payload: the outcome, or why it was refused.
    pub async fn invoke(&self, payload: &Value) -> Result<Outcome, Error> {
        let sim = Simulation::from_json(payload).map_err(Error::Validation)?;
        simulate(self.catalog.as_ref(), self.queue.as_ref(), &sim).await
    }
}

/// The function in Lambda, with its two triggers: an API Gateway proxy event
/// (`POST /simulations`) or a direct invocation with the simulation payload.
pub struct SimulatorLambda(Endpoint<Simulator>);

impl App for SimulatorLambda {
    const NAME: &'static str = Simulator::NAME;

    async fn new(adapters: &Adapters) -> Result<SimulatorLambda, ConfigError> {
        Ok(SimulatorLambda(composition::endpoint(adapters).await?))
    }
}

impl EventFunction for SimulatorLambda {
    type Event = Value;
    type Output = Value;
    type Error = Error;

    async fn handle(&self, event: Value) -> Result<Value, Error> {
        if event.get("httpMethod").is_some() {
            let request = http_kit::events::request_from_json(&event)
                .map_err(|e| Error::validation("event", e))?;
            return Ok(http_kit::events::proxy_response(self.0.call(request).await));
        }
        let outcome = self.0.function().invoke(&event).await?;
        Ok(json!(outcome))
    }

    /// A refused direct invocation carries its problem document.
    fn diagnostic(error: &Error) -> Diagnostic {
        let problem = http_kit::problem(error);
        Diagnostic {
            error_type: problem.title.to_owned(),
            error_message: serde_json::to_string(&problem).unwrap_or_else(|_| error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_validation() {
        let s = Simulation::from_json(&json!({"orders": 1000, "invalid_ratio": 0.01, "seed": 42}))
            .unwrap();
        assert_eq!((s.orders, s.invalid_count(), s.seed), (1000, 10, Some(42)));
        assert_eq!(s.hot, None);
        let sale = Simulation::from_json(&json!({"orders": 5, "product": "p-1"})).unwrap();
        assert_eq!(sale.hot, Some(ProductId::parse("p-1").unwrap()));
        assert_eq!(
            Simulation::from_json(&json!({"orders": 5}))
                .unwrap()
                .invalid_count(),
            0
        );
        for (body, field) in [
            (json!({"orders": 0}), "orders"),
            (json!({"orders": 10001}), "orders"),
            (json!({"orders": 5, "invalid_ratio": 1.5}), "invalid_ratio"),
            (json!({"orders": 5, "invalid_ratio": "x"}), "invalid_ratio"),
            (json!({"orders": 5, "seed": -1}), "seed"),
            (json!({"orders": 5, "extra": 1}), "extra"),
            (json!({"orders": 5, "product": "not a product!"}), "product"),
            (json!({"orders": 5, "product": 3}), "product"),
        ] {
            assert_eq!(
                Simulation::from_json(&body).unwrap_err()[0].field,
                field,
                "{body}"
            );
        }
    }
}
