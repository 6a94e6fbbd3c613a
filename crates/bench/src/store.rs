//! The ceiling of the pipeline: how many orders per second the embedded store itself records,
//! through the processor's own adapter call (`OrderStore::record` of an accepted order: one
//! `TransactWriteItems` that reserves the stock and puts the order), the same SDK client and
//! item shapes, at a fixed concurrency. Each worker orders its own product, so the rate is the
//! store's, not a hot item's.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use domain::order::{Order, OrderPlaced};
use domain::ports::{Catalog, OrderStore};
use domain::product::Product;
use domain::{Currency, Money};
use serde_json::json;
use store_dynamodb::{DynamoStore, Tables};

/// What the store sustained.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Ceiling {
    pub concurrency: usize,
    pub orders: usize,
    pub errors: usize,
    pub orders_per_second: f64,
}

fn product(id: &str) -> Result<Product, String> {
    Ok(Product {
        id: domain::ids::ProductId::parse(id).map_err(|e| e.to_string())?,
        company_id: domain::ids::CompanyId::parse("bench").map_err(|e| e.to_string())?,
        name: "Bench item".to_owned(),
        description: String::new(),
        price: Money::from_minor(100, Currency::Usd),
        stock: 1_000_000,
        available: true,
        stock_shards: 1,
        version: 1,
        updated_at: chrono::Utc::now(),
    })
}

/// The order the processor would record for one unit of `product`: accepted, priced.
fn accepted(product: &Product) -> Result<Order, String> {
    let placed = json!({
        "type": "order.placed", "version": 1, "order_id": uuid::Uuid::new_v4().to_string(),
        "customer_id": "bench", "items": [{"product_id": product.id, "quantity": 1}],
        "delivery": {"address": "1 Bench Street", "phone": "+15551234567"},
        "placed_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    });
    let (placed, basket) = OrderPlaced::parse(&placed.to_string())?;
    let catalog = HashMap::from([(product.id.clone(), product.clone())]);
    Ok(Order::decide(&placed, &basket, &catalog))
}

/// Records accepted orders with `concurrency` workers for `duration`.
pub async fn ceiling(
    endpoint: &str,
    tables: Tables,
    concurrency: usize,
    duration: Duration,
) -> Result<Ceiling, String> {
    let config = composition::local_sdk_config(endpoint);
    let store = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        tables,
    ));
    let (recorded, errors) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut workers = Vec::new();
    let start = Instant::now();
    for worker in 0..concurrency {
        let item = product(&format!("bench-{}-{worker}", &run[..8]))?;
        store.save(&item, None).await.map_err(|e| e.to_string())?;
        let (store, recorded, errors) = (store.clone(), recorded.clone(), errors.clone());
        workers.push(tokio::spawn(async move {
            while start.elapsed() < duration {
                let Ok(order) = accepted(&item) else { break };
                match store.record(&order).await {
                    Ok(_) => recorded.fetch_add(1, Ordering::Relaxed),
                    Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    let orders = recorded.load(Ordering::Relaxed);
    Ok(Ceiling {
        concurrency,
        orders,
        errors: errors.load(Ordering::Relaxed),
        orders_per_second: (orders as f64 / start.elapsed().as_secs_f64()).round(),
    })
}

/// Sets every product's stock to `stock` (through the catalog adapter, version-checked), so
/// that a pipeline run accepts its orders (a large stock) or rejects them all (0); with `shards`,
/// each product's stock is spread over that many items (a flash sale's rehearsal).
pub async fn set_stock(
    endpoint: &str,
    tables: Tables,
    stock: u32,
    shards: Option<u8>,
) -> Result<usize, String> {
    let config = composition::local_sdk_config(endpoint);
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), tables);
    let mut page = domain::ports::PageRequest {
        limit: 100,
        cursor: None,
    };
    let mut changed = 0;
    loop {
        let listed = store.list(None, &page).await.map_err(|e| e.to_string())?;
        for mut product in listed.items {
            let expected = product.version;
            product.stock = stock;
            product.stock_shards = shards.unwrap_or(product.stock_shards);
            product.version += 1;
            product.updated_at = chrono::Utc::now();
            store
                .save(&product, Some(expected))
                .await
                .map_err(|e| e.to_string())?;
            changed += 1;
        }
        match listed.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return Ok(changed),
        }
    }
}
