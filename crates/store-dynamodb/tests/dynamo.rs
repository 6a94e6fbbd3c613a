//! The DynamoDB adapter against dynoxide served in-process on an ephemeral loopback port,
//! through the real `aws-sdk-dynamodb` client: the same code path production takes.

use std::collections::HashSet;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use domain::carrier::Carrier;
use domain::import::{FileVersion, Import, ImportFormat, ImportId, ImportStatus, RowError};
use domain::order::{CarrierRef, Delivery, Order, OrderLine, OrderStatus, RejectReason};
use domain::ports::{BatchOutcome, ImportBatch, Imports, KeyUse, KeyUses, Remembered};
use domain::ports::{Carriers, Catalog, Claim, OrderStore, PageRequest, RecordOutcome};
use domain::product::Product;
use domain::rate::OrderWindow;
use domain::validation::FieldError;
use domain::{
    CarrierId, CompanyId, Currency, CustomerId, IdempotencyKey, Money, OrderId, Phone, PortError,
    ProductId,
};
use store_dynamodb::schema::{self, create_table, create_tables};
use store_dynamodb::{DynamoStore, ImportTable, KeyUseTable, Tables};

#[path = "dynamo/shards.rs"]
mod shards;

async fn store() -> DynamoStore {
    let store = test_support::store().await;
    // Creating the tables again is a no-op.
    create_tables(store.client(), store.tables()).await.unwrap();
    store
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .unwrap()
        .to_utc()
}

fn product(id: &str, company: &str, stock: u32) -> Product {
    Product {
        id: ProductId::parse(id).unwrap(),
        company_id: CompanyId::parse(company).unwrap(),
        name: format!("Product {id}"),
        description: "tasty".into(),
        price: Money::from_minor(1250, Currency::Usd),
        stock,
        available: true,
        stock_shards: 1,
        version: 1,
        updated_at: now(),
    }
}

fn order(customer: &str, lines: &[(&str, u32)], created_at: DateTime<Utc>) -> Order {
    let customer_id = CustomerId::parse(customer).unwrap();
    let lines: Vec<OrderLine> = lines
        .iter()
        .map(|(id, q)| OrderLine {
            product_id: ProductId::parse(id).unwrap(),
            name: Some(format!("Product {id}")),
            quantity: *q,
            unit_price: Some(Money::from_minor(1250, Currency::Usd)),
            line_total: Some(Money::from_minor(1250 * i64::from(*q), Currency::Usd)),
        })
        .collect();
    let total = lines.iter().map(|l| l.line_total.unwrap().minor()).sum();
    Order {
        id: OrderId::for_request(&customer_id, None),
        customer_id,
        lines,
        total: Some(Money::from_minor(total, Currency::Usd)),
        delivery: Delivery {
            address: "1 Main St".into(),
            phone: Phone::parse("+15551234567").unwrap(),
        },
        status: OrderStatus::Accepted,
        reason: None,
        carrier: None,
        created_at,
        recorded_at: None,
        announced_at: None,
        texted_at: None,
        dispatched_at: None,
    }
}

async fn stock_of(store: &DynamoStore, id: &str) -> (u32, u64) {
    let p = Catalog::get(store, &ProductId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    (p.stock, p.version)
}

#[tokio::test]
async fn product_writes_are_conditional_on_version() {
    let store = store().await;
    let p = product("p1", "acme", 5);
    store.save(&p, None).await.unwrap();
    assert_eq!(
        store.save(&p, None).await,
        Err(PortError::Conflict),
        "create twice"
    );
    assert_eq!(Catalog::get(&store, &p.id).await.unwrap(), Some(p.clone()));

    let mut next = p.clone();
    next.version = 2;
    next.price = Money::from_minor(999, Currency::Usd);
    assert_eq!(
        store.save(&next, Some(7)).await,
        Err(PortError::Conflict),
        "stale version"
    );
    store.save(&next, Some(1)).await.unwrap();
    assert_eq!(Catalog::get(&store, &p.id).await.unwrap(), Some(next));
    assert_eq!(
        Catalog::get(&store, &ProductId::parse("nope").unwrap())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn paging_returns_every_product_exactly_once() {
    let store = store().await;
    for i in 0..45 {
        let company = if i % 3 == 0 { "globex" } else { "acme" };
        store
            .save(&product(&format!("p{i:02}"), company, 1), None)
            .await
            .unwrap();
    }
    for (company, expected) in [(None, 45), (Some("acme"), 30), (Some("globex"), 15)] {
        let company = company.map(|c| CompanyId::parse(c).unwrap());
        let mut seen = Vec::new();
        let mut request = PageRequest {
            limit: 7,
            cursor: None,
        };
        loop {
            let page = Catalog::list(&store, company.as_ref(), &request)
                .await
                .unwrap();
            assert!(page.items.len() <= 7);
            for p in &page.items {
                if let Some(c) = &company {
                    assert_eq!(&p.company_id, c);
                }
                seen.push(p.id.clone());
            }
            match page.next_cursor {
                Some(c) => request.cursor = Some(c),
                None => break,
            }
        }
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(
            (seen.len(), unique.len()),
            (expected, expected),
            "{company:?}"
        );
    }
}

#[tokio::test]
async fn forged_and_foreign_cursors_are_refused() {
    let store = store().await;
    for i in 0..5 {
        store
            .save(&product(&format!("p{i}"), "acme", 1), None)
            .await
            .unwrap();
    }
    let acme = CompanyId::parse("acme").unwrap();
    let globex = CompanyId::parse("globex").unwrap();
    let first = Catalog::list(
        &store,
        Some(&acme),
        &PageRequest {
            limit: 2,
            cursor: None,
        },
    )
    .await
    .unwrap();
    let acme_cursor = first.next_cursor.unwrap();
    let foreign = PageRequest {
        limit: 2,
        cursor: Some(acme_cursor.clone()),
    };
    assert_eq!(
        Catalog::list(&store, Some(&globex), &foreign)
            .await
            .unwrap_err(),
        PortError::InvalidCursor
    );
    assert_eq!(
        Catalog::list(&store, None, &foreign).await.unwrap_err(),
        PortError::InvalidCursor
    );
    let alice = CustomerId::parse("alice").unwrap();
    assert_eq!(
        store.list_for_customer(&alice, &foreign).await.unwrap_err(),
        PortError::InvalidCursor
    );
    let forged = PageRequest {
        limit: 2,
        cursor: Some(domain::ports::Cursor(
            "eyJsIjoicHJvZHVjdHMiLCJrIjp7fX0".into(),
        )),
    };
    assert_eq!(
        Catalog::list(&store, None, &forged).await.unwrap_err(),
        PortError::InvalidCursor
    );
}

#[tokio::test]
async fn get_many_skips_unknown_and_handles_more_than_one_batch() {
    let store = store().await;
    let mut ids = Vec::new();
    for i in 0..130 {
        let p = product(&format!("p{i:03}"), "acme", 1);
        store.save(&p, None).await.unwrap();
        ids.push(p.id);
    }
    ids.push(ProductId::parse("ghost").unwrap());
    ids.push(ids[0].clone());
    let found = store.get_many(&ids).await.unwrap();
    assert_eq!(found.len(), 130);
    assert!(store.get_many(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn accepting_reserves_stock_once_and_redelivery_changes_nothing() {
    let store = store().await;
    store.save(&product("a", "acme", 10), None).await.unwrap();
    store.save(&product("b", "acme", 3), None).await.unwrap();
    let o = order("alice", &[("a", 4), ("b", 3)], now());

    let outcome = store.record(&o).await.unwrap();
    assert_eq!(outcome, RecordOutcome::Accepted(o.clone()));
    assert_eq!(stock_of(&store, "a").await, (6, 2));
    assert_eq!(stock_of(&store, "b").await, (0, 2));

    match store.record(&o).await.unwrap() {
        RecordOutcome::AlreadyRecorded(stored) => assert_eq!(stored, o),
        other => panic!("expected AlreadyRecorded, got {other:?}"),
    }
    assert_eq!(stock_of(&store, "a").await, (6, 2), "no second decrement");
    assert_eq!(OrderStore::get(&store, o.id).await.unwrap(), Some(o));
}

#[tokio::test]
async fn rejections_name_the_reason_and_touch_no_stock() {
    let store = store().await;
    store.save(&product("a", "acme", 10), None).await.unwrap();
    store.save(&product("few", "acme", 2), None).await.unwrap();
    let mut off = product("off", "acme", 10);
    off.available = false;
    store.save(&off, None).await.unwrap();

    let cases = [
        (vec![("a", 1), ("few", 3)], RejectReason::OutOfStock),
        (vec![("a", 1), ("off", 1)], RejectReason::Unavailable),
        (vec![("a", 1), ("ghost", 1)], RejectReason::UnknownProduct),
        (
            vec![("few", 5), ("ghost", 1), ("off", 1)],
            RejectReason::UnknownProduct,
        ),
    ];
    for (lines, reason) in cases {
        let o = order("alice", &lines, now());
        match store.record(&o).await.unwrap() {
            RecordOutcome::Rejected(r) => {
                assert_eq!((r.status, r.reason), (OrderStatus::Rejected, Some(reason)));
                assert_eq!(OrderStore::get(&store, o.id).await.unwrap(), Some(r));
            }
            other => panic!("{lines:?}: expected Rejected, got {other:?}"),
        }
        // A redelivery of the rejected order is recognised.
        assert!(matches!(
            store.record(&o).await.unwrap(),
            RecordOutcome::AlreadyRecorded(_)
        ));
    }
    assert_eq!(stock_of(&store, "a").await, (10, 1));
    assert_eq!(stock_of(&store, "few").await, (2, 1));

    // A proposal already rejected by the processor is recorded as it is.
    let pre = order("bob", &[("a", 1)], now()).rejected(RejectReason::Unavailable);
    assert_eq!(
        store.record(&pre).await.unwrap(),
        RecordOutcome::Rejected(pre)
    );
    assert_eq!(stock_of(&store, "a").await, (10, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_orders_against_stock_twenty() {
    let store = Arc::new(store().await);
    store.save(&product("hot", "acme", 20), None).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let o = order(&format!("c{i}"), &[("hot", 1)], now());
            store.record(&o).await
        });
    }
    let (mut accepted, mut rejected) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap().unwrap() {
            RecordOutcome::Accepted(_) => accepted += 1,
            RecordOutcome::Rejected(o) => {
                assert_eq!(o.reason, Some(RejectReason::OutOfStock));
                rejected += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((accepted, rejected), (20, 30));
    assert_eq!(stock_of(&store, "hot").await.0, 0);
}

#[tokio::test]
async fn customers_list_their_own_orders_newest_first() {
    let store = store().await;
    store.save(&product("a", "acme", 100), None).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..7 {
        let o = order("alice", &[("a", 1)], now() + Duration::seconds(i));
        store.record(&o).await.unwrap();
        ids.push(o.id);
    }
    store
        .record(&order("bob", &[("a", 1)], now()))
        .await
        .unwrap();
    ids.reverse();

    let alice = CustomerId::parse("alice").unwrap();
    let mut seen = Vec::new();
    let mut request = PageRequest {
        limit: 3,
        cursor: None,
    };
    loop {
        let page = store.list_for_customer(&alice, &request).await.unwrap();
        seen.extend(page.items.iter().map(|o| o.id));
        match page.next_cursor {
            Some(c) => request.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ids);

    let first = store
        .list_for_customer(
            &alice,
            &PageRequest {
                limit: 3,
                cursor: None,
            },
        )
        .await
        .unwrap();
    let bob = CustomerId::parse("bob").unwrap();
    let stolen = PageRequest {
        limit: 3,
        cursor: first.next_cursor,
    };
    assert_eq!(
        store.list_for_customer(&bob, &stolen).await.unwrap_err(),
        PortError::InvalidCursor
    );
}

#[tokio::test]
async fn dispatch_is_idempotent_and_only_for_accepted_orders() {
    let store = store().await;
    store.save(&product("a", "acme", 5), None).await.unwrap();
    let o = order("alice", &[("a", 1)], now());
    store.record(&o).await.unwrap();
    let fast = CarrierRef {
        id: CarrierId::parse("fast").unwrap(),
        name: "Fast".into(),
    };
    let slow = CarrierRef {
        id: CarrierId::parse("slow").unwrap(),
        name: "Slow".into(),
    };
    let at = now() + Duration::minutes(1);

    // One claimant at a time; the same claimant again; another once the lease ran out.
    let lease = Duration::seconds(60);
    assert_eq!(
        store
            .claim_dispatch(o.id, "event-1", at, lease, now())
            .await
            .unwrap(),
        Claim::Taken
    );
    assert_eq!(
        store
            .claim_dispatch(o.id, "event-2", at, lease, now())
            .await
            .unwrap(),
        Claim::Held
    );
    assert_eq!(
        store
            .claim_dispatch(o.id, "event-1", at, lease, now())
            .await
            .unwrap(),
        Claim::Taken
    );
    assert_eq!(
        store
            .claim_dispatch(o.id, "event-2", at + Duration::seconds(61), lease, now())
            .await
            .unwrap(),
        Claim::Taken
    );
    // The holder sets the expiry: extended for hours, its claim holds against a claimant whose
    // own lease is short, until the extension runs out.
    let later = at + Duration::seconds(62);
    let held = Duration::hours(7);
    let taken = store.claim_dispatch(o.id, "event-2", later, held, now());
    assert_eq!(taken.await.unwrap(), Claim::Taken);
    for (claimant, when, expected) in [
        ("event-4", later + Duration::minutes(3), Claim::Held),
        ("event-4", later + held - Duration::seconds(1), Claim::Held),
        ("event-4", later + held + Duration::seconds(1), Claim::Taken),
    ] {
        let claim = store.claim_dispatch(o.id, claimant, when, Duration::seconds(1), now());
        assert_eq!(claim.await.unwrap(), expected, "{claimant} at {when}");
    }

    // A texted claim records its carrier: only its holder may record it, and no claimant
    // takes the order again, however late, until it is recorded dispatched.
    assert_eq!(
        store.texted(o.id).await.unwrap(),
        None,
        "nothing texted yet"
    );
    let much_later = later + held + Duration::seconds(1);
    let texted = store.hold_texted(o.id, "event-5", &slow, much_later, held);
    assert_eq!(texted.await.unwrap(), Claim::Held, "not its claim");
    let texted = store.hold_texted(o.id, "event-4", &slow, much_later, held);
    assert_eq!(texted.await.unwrap(), Claim::Taken);
    assert_eq!(store.texted(o.id).await.unwrap(), Some(slow.clone()));
    let never = much_later + Duration::days(30);
    let claim = store.claim_dispatch(o.id, "event-6", never, lease, now());
    assert_eq!(claim.await.unwrap(), Claim::Held, "texted: to be recorded");

    let dispatched = store.mark_dispatched(o.id, &fast, at, at).await.unwrap();
    assert_eq!(store.texted(o.id).await.unwrap(), None, "recorded");
    assert_eq!(
        store
            .claim_dispatch(o.id, "event-3", at + Duration::hours(1), lease, now())
            .await
            .unwrap(),
        Claim::Held,
        "dispatched: no claim"
    );
    assert_eq!(dispatched.status, OrderStatus::Dispatched);
    assert_eq!(dispatched.carrier, Some(fast.clone()));
    assert_eq!(dispatched.dispatched_at, Some(at));
    let again = store
        .mark_dispatched(
            o.id,
            &slow,
            at + Duration::minutes(1),
            at + Duration::minutes(1),
        )
        .await
        .unwrap();
    assert_eq!(again, dispatched, "the first dispatch stands");

    let rejected = order("alice", &[("a", 99)], now());
    store.record(&rejected).await.unwrap();
    assert!(matches!(
        store.mark_dispatched(rejected.id, &fast, at, at).await,
        Err(PortError::Permanent(_))
    ));
    let missing = order("zed", &[("a", 1)], now());
    assert_eq!(
        store.mark_dispatched(missing.id, &fast, at, at).await,
        Err(PortError::NotFound)
    );
}

#[tokio::test]
async fn carriers_round_trip() {
    let store = store().await;
    let carriers: Vec<Carrier> = (0..3)
        .map(|i| Carrier {
            id: CarrierId::parse(&format!("c{i}")).unwrap(),
            name: format!("Carrier {i}"),
            phone: Phone::parse(&format!("+1555000000{i}")).unwrap(),
            active: i != 1,
        })
        .collect();
    for c in &carriers {
        store.put(c).await.unwrap();
    }
    // A row written by hand with a 7-digit phone: skipped, never stopping the others.
    store
        .client()
        .put_item()
        .table_name(&store.tables().carriers)
        .item("id", AttributeValue::S("bad".into()))
        .item("name", AttributeValue::S("Bad phone".into()))
        .item("phone", AttributeValue::S("+1555123".into()))
        .item("active", AttributeValue::Bool(true))
        .send()
        .await
        .unwrap();
    let mut listed = Carriers::list(&store).await.unwrap();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, carriers);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_transient() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = aws_sdk_dynamodb::Client::new(&composition::local_sdk_config(&format!(
        "http://127.0.0.1:{port}"
    )));
    let store = DynamoStore::new(
        client,
        Tables {
            products: "p".into(),
            orders: "o".into(),
            carriers: "c".into(),
        },
    );
    let err = Catalog::get(&store, &ProductId::parse("a").unwrap())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

/// A data dir from before an index existed: creating its tables again adds the index, and the
/// open imports are found through it (as written since; finished ones leave it).
#[tokio::test]
async fn an_index_added_since_is_added_to_an_existing_table() {
    use domain::import::{Import, ImportFormat};
    use domain::ports::Imports;
    use store_dynamodb::ImportTable;
    use store_dynamodb::schema::{self, IMPORTS, TableSpec};
    let store = store().await;
    let client = store.client().clone();
    let old = TableSpec {
        hash_key: "id",
        range_key: None,
        indexes: &[],
    };
    schema::create_table(&client, "imports-v1", old)
        .await
        .unwrap();
    schema::create_table(&client, "imports-v1", IMPORTS)
        .await
        .unwrap();
    let imports = ImportTable::new(client, "imports-v1".into(), "products".into());
    let acme = CompanyId::parse("acme").unwrap();
    let (first, second) = (
        Import::pending(acme.clone(), ImportFormat::Csv, now()),
        Import::pending(
            acme.clone(),
            ImportFormat::Jsonl,
            now() + Duration::seconds(1),
        ),
    );
    imports.create(&first).await.unwrap();
    imports.create(&second).await.unwrap();
    let open: Vec<_> = imports
        .open(&acme)
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(open, [first.id, second.id], "oldest first");
    imports
        .finish(first.id, Some("refused"), now())
        .await
        .unwrap();
    imports
        .expire(second.id, "upload_expired", now())
        .await
        .unwrap();
    assert!(imports.open(&acme).await.unwrap().is_empty());
    let expired = imports.get(second.id).await.unwrap().unwrap();
    assert_eq!(expired.reason.as_deref(), Some("upload_expired"));
}

/// DynamoDB answers a `BatchGetItem` with at most 16 MB and returns the keys it did not read
/// as `UnprocessedKeys` ("If you request more than 100 items, or the 16 MB limit is exceeded,
/// BatchGetItem returns a partial result": the API reference). dynoxide keeps that limit, so
/// products of nearly 400 KB each, 45 of them, come back only through the adapter asking again
/// for the rest.
#[tokio::test]
async fn get_many_asks_again_for_the_keys_a_full_answer_left_unprocessed() {
    let store = store().await;
    let padding = "x".repeat(380 * 1024);
    let mut ids = Vec::new();
    for i in 0..45 {
        let p = product(&format!("big{i:02}"), "acme", 1);
        store.save(&p, None).await.unwrap();
        // An attribute the adapter does not read, only there to fill the item.
        store
            .client()
            .update_item()
            .table_name(&store.tables().products)
            .key("id", AttributeValue::S(p.id.as_str().to_owned()))
            .update_expression("SET padding = :p")
            .expression_attribute_values(":p", AttributeValue::S(padding.clone()))
            .send()
            .await
            .unwrap();
        ids.push(p.id);
    }
    let found = store.get_many(&ids).await.unwrap();
    let found: HashSet<_> = found.into_iter().map(|p| p.id).collect();
    assert_eq!(found, ids.into_iter().collect::<HashSet<_>>());
}

/// The imports table beside the store's products, as the composition root builds it.
async fn imports(store: &DynamoStore) -> ImportTable {
    create_table(store.client(), "imports-test", schema::IMPORTS)
        .await
        .unwrap();
    ImportTable::new(
        store.client().clone(),
        "imports-test".into(),
        store.tables().products.clone(),
    )
    .with_history("history".into())
}

fn row_error(row: u64) -> RowError {
    RowError::new(
        row,
        FieldError::new("price", format!("row {row}: not a price")),
    )
}

/// A running import of `acme`, its file pinned.
async fn running(imports: &ImportTable) -> Import {
    let import = Import::pending(CompanyId::parse("acme").unwrap(), ImportFormat::Csv, now());
    imports.create(&import).await.unwrap();
    let file = FileVersion {
        e_tag: "\"etag-1\"".into(),
        version_id: Some("v1".into()),
    };
    let started = imports
        .start(import.id, 10, &file, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(started.status, ImportStatus::Running);
    assert_eq!(started.file, Some(file));
    started
}

#[tokio::test]
async fn an_import_is_created_once_and_kept_seven_days() {
    let store = store().await;
    let imports = imports(&store).await;
    let import = Import::pending(
        CompanyId::parse("acme").unwrap(),
        ImportFormat::Jsonl,
        now(),
    );
    imports.create(&import).await.unwrap();
    assert_eq!(
        imports.create(&import).await.unwrap_err(),
        PortError::Conflict
    );
    assert_eq!(imports.get(import.id).await.unwrap().unwrap(), import);
    assert_eq!(imports.get(ImportId::random()).await.unwrap(), None);
    let item = store
        .client()
        .get_item()
        .table_name("imports-test")
        .key("id", AttributeValue::S(import.id.to_string()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    // DynamoDB's TTL reads epoch seconds: seven days after the import was made.
    let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    assert_eq!(expires, now().timestamp() + 7 * 24 * 3600);
}

#[tokio::test]
async fn a_table_that_is_missing_is_no_conflict() {
    let store = store().await;
    let imports = ImportTable::new(
        store.client().clone(),
        "no-such-table".into(),
        "nor-this".into(),
    );
    let import = Import::pending(CompanyId::parse("acme").unwrap(), ImportFormat::Csv, now());
    let err = imports.create(&import).await.unwrap_err();
    assert_ne!(err, PortError::Conflict, "{err:?}");
    let missing = DynamoStore::new(
        store.client().clone(),
        Tables {
            products: "no-such-table".into(),
            orders: "nor-this".into(),
            carriers: "nor-that".into(),
        },
    );
    let err = missing
        .save(&product("p1", "acme", 1), None)
        .await
        .unwrap_err();
    assert_ne!(err, PortError::Conflict, "{err:?}");
}

#[tokio::test]
async fn a_batch_moves_the_checkpoint_counts_its_rows_and_keeps_its_errors() {
    let store = store().await;
    let imports = imports(&store).await;
    let import = running(&imports).await;
    let batch = ImportBatch {
        import: import.id,
        from_row: 1,
        to_row: 11,
        writes: vec![
            (product("i1", "acme", 1), None),
            (product("i2", "acme", 2), None),
            (product("i3", "acme", 3), None),
        ],
        errors: vec![row_error(4), row_error(7)],
        at: now(),
        by: test_support::actor("acme"),
    };
    assert_eq!(
        imports.commit(&batch).await.unwrap(),
        BatchOutcome::Committed
    );
    let after = imports.get(import.id).await.unwrap().unwrap();
    assert_eq!(after.next_row, 11, "rows are numbered from 1");
    assert_eq!(
        (after.rows.written, after.rows.rejected),
        (3, 7),
        "every row settled and not written is refused"
    );
    assert_eq!(after.errors, vec![row_error(4), row_error(7)]);
    assert_eq!(stock_of(&store, "i3").await.0, 3);

    // A batch without errors appends none.
    let clean = ImportBatch {
        import: import.id,
        from_row: 11,
        to_row: 13,
        writes: vec![
            (product("i4", "acme", 1), None),
            (product("i5", "acme", 1), None),
        ],
        errors: vec![],
        at: now(),
        by: test_support::actor("acme"),
    };
    assert_eq!(
        imports.commit(&clean).await.unwrap(),
        BatchOutcome::Committed
    );
    let after = imports.get(import.id).await.unwrap().unwrap();
    assert_eq!(
        (after.next_row, after.rows.written, after.rows.rejected),
        (13, 5, 7)
    );
    assert_eq!(after.errors.len(), 2);
}

#[tokio::test]
async fn a_batch_is_superseded_by_a_moved_checkpoint_and_stopped_by_a_changed_product() {
    let store = store().await;
    let imports = imports(&store).await;
    let import = running(&imports).await;
    let existing = product("c1", "acme", 5);
    store.save(&existing, None).await.unwrap();
    // The product changed since the batch read it at version 1.
    let mut changed = existing.clone();
    changed.version = 2;
    store.save(&changed, Some(1)).await.unwrap();
    let batch = |from_row, writes| ImportBatch {
        import: import.id,
        from_row,
        to_row: from_row + 2,
        writes,
        errors: vec![],
        at: now(),
        by: test_support::actor("acme"),
    };
    let stale = batch(
        1,
        vec![
            (product("c0", "acme", 1), None),
            (existing.clone(), Some(1)),
        ],
    );
    assert_eq!(
        imports.commit(&stale).await.unwrap(),
        BatchOutcome::Changed(vec![existing.id.clone()])
    );
    assert_eq!(
        imports.get(import.id).await.unwrap().unwrap().next_row,
        1,
        "nothing written"
    );
    let behind = batch(5, vec![(product("c2", "acme", 1), None)]);
    assert_eq!(
        imports.commit(&behind).await.unwrap(),
        BatchOutcome::Superseded
    );
}

/// The idempotency table beside the store, as the composition root builds it.
async fn key_uses(store: &DynamoStore) -> KeyUseTable {
    create_table(store.client(), "keys-test", schema::IDEMPOTENCY)
        .await
        .unwrap();
    KeyUseTable::new(store.client().clone(), "keys-test".into())
}

fn key_use(customer: &str, key: &str, message: Option<&str>) -> KeyUse {
    let customer = CustomerId::parse(customer).unwrap();
    KeyUse {
        order_id: OrderId::for_request(&customer, Some(&IdempotencyKey::parse(key).unwrap())),
        fingerprint: format!("digest-of-{key}"),
        answer: serde_json::json!({"order_id": key, "status": "accepted"}),
        message: message.map(str::to_owned),
    }
}

async fn stored_number(store: &DynamoStore, table: &str, id: &str, attribute: &str) -> i64 {
    let item = store
        .client()
        .get_item()
        .table_name(table)
        .key("id", AttributeValue::S(id.to_owned()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    item[attribute].as_n().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_key_is_remembered_once_and_answers_with_its_first_use_for_a_day() {
    let store = store().await;
    let keys = key_uses(&store).await;
    let first = key_use("cust-1", "k1", Some("{\"v\":2}"));
    let before = Utc::now().timestamp();
    assert_eq!(keys.remember(&first).await.unwrap(), Remembered::First);
    let after = Utc::now().timestamp();

    // A second use, whatever it carries, answers with the first.
    let mut retry = first.clone();
    retry.fingerprint = "another digest".into();
    retry.message = None;
    assert_eq!(
        keys.remember(&retry).await.unwrap(),
        Remembered::Before(first.clone())
    );
    assert_eq!(
        keys.recall(first.order_id).await.unwrap(),
        Some(first.clone())
    );

    // A use without a kept message reads back without one.
    let bare = key_use("cust-1", "k2", None);
    assert_eq!(keys.remember(&bare).await.unwrap(), Remembered::First);
    assert_eq!(keys.recall(bare.order_id).await.unwrap(), Some(bare));
    assert_eq!(
        keys.recall(key_use("cust-1", "never", None).order_id)
            .await
            .unwrap(),
        None
    );

    // Kept a day, in DynamoDB's TTL epoch seconds.
    let expires = stored_number(
        &store,
        "keys-test",
        &first.order_id.to_string(),
        "expires_at",
    )
    .await;
    assert!(
        (before + 24 * 3600..=after + 24 * 3600).contains(&expires),
        "{expires} is not a day after {before}"
    );
}

#[tokio::test]
async fn a_key_past_its_day_is_gone_before_ttl_deletes_it() {
    let store = store().await;
    let keys = key_uses(&store).await;
    let old = key_use("cust-1", "old", None);
    assert_eq!(keys.remember(&old).await.unwrap(), Remembered::First);
    // TTL deletes lazily (up to days late): the item is still there, a second past its day.
    store
        .client()
        .update_item()
        .table_name("keys-test")
        .key("id", AttributeValue::S(old.order_id.to_string()))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(
            ":past",
            AttributeValue::N((Utc::now().timestamp() - 1).to_string()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(keys.recall(old.order_id).await.unwrap(), None);
    let mut again = old.clone();
    again.fingerprint = "a new request".into();
    assert_eq!(keys.remember(&again).await.unwrap(), Remembered::First);
    assert_eq!(keys.recall(old.order_id).await.unwrap(), Some(again));
}

#[tokio::test]
async fn a_stored_answer_that_is_not_json_is_a_permanent_error() {
    let store = store().await;
    let keys = key_uses(&store).await;
    let used = key_use("cust-1", "k", None);
    let expires = (Utc::now().timestamp() + 3600).to_string();
    store
        .client()
        .put_item()
        .table_name("keys-test")
        .item("id", AttributeValue::S(used.order_id.to_string()))
        .item("fingerprint", AttributeValue::S("d".into()))
        .item("answer", AttributeValue::S("{not json".into()))
        .item("expires_at", AttributeValue::N(expires))
        .send()
        .await
        .unwrap();
    assert!(matches!(
        keys.recall(used.order_id).await,
        Err(PortError::Permanent(_))
    ));
    assert!(matches!(
        keys.remember(&used).await,
        Err(PortError::Permanent(_))
    ));
}

#[tokio::test]
async fn a_principal_s_orders_are_counted_once_each_up_to_the_hour_s_limit() {
    let store = store().await;
    let keys = key_uses(&store).await;
    let principal = CustomerId::parse("cust-9").unwrap();
    let hour = now().timestamp() / 3600 * 3600;
    let window = OrderWindow {
        hour,
        ends_in: 600,
        limit: 2,
    };
    let order =
        |key: &str| OrderId::for_request(&principal, Some(&IdempotencyKey::parse(key).unwrap()));
    assert!(
        keys.count_order(&principal, order("a"), &window)
            .await
            .unwrap()
    );
    // A retried request is not counted twice.
    assert!(
        keys.count_order(&principal, order("a"), &window)
            .await
            .unwrap()
    );
    assert!(
        keys.count_order(&principal, order("b"), &window)
            .await
            .unwrap()
    );
    assert!(
        !keys
            .count_order(&principal, order("c"), &window)
            .await
            .unwrap(),
        "a third order in an hour of two"
    );
    // One already counted is still admitted (its retry), and the next hour starts afresh.
    assert!(
        keys.count_order(&principal, order("b"), &window)
            .await
            .unwrap()
    );
    let next = OrderWindow {
        hour: hour + 3600,
        ..window
    };
    assert!(
        keys.count_order(&principal, order("c"), &next)
            .await
            .unwrap()
    );
    // Another principal has its own count.
    let other = CustomerId::parse("cust-8").unwrap();
    assert!(keys.count_order(&other, order("c"), &window).await.unwrap());
    // Kept past its hour by a day.
    let id = format!("rate#{hour}#{principal}");
    assert_eq!(
        stored_number(&store, "keys-test", &id, "expires_at").await,
        hour + 3600 + 24 * 3600
    );
}

#[tokio::test]
async fn a_missing_idempotency_table_is_an_error_not_an_answer() {
    let store = store().await;
    let keys = KeyUseTable::new(store.client().clone(), "no-such-table".into());
    let used = key_use("cust-1", "k", None);
    assert!(keys.remember(&used).await.is_err());
    assert!(keys.recall(used.order_id).await.is_err());
    let window = OrderWindow {
        hour: 0,
        ends_in: 1,
        limit: 1,
    };
    assert!(
        keys.count_order(
            &CustomerId::parse("cust-1").unwrap(),
            used.order_id,
            &window
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn an_import_starts_on_its_first_upload_and_keeps_that_one() {
    let store = store().await;
    let imports = imports(&store).await;
    let import = running(&imports).await;
    assert_eq!(imports.get(import.id).await.unwrap().unwrap(), import);
    assert_eq!(import.rows.total, 10);

    // The same upload delivered again starts it again; its version id stays as first read.
    let again = FileVersion {
        e_tag: "\"etag-1\"".into(),
        version_id: Some("v2".into()),
    };
    let restarted = imports
        .start(import.id, 10, &again, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(restarted.file, import.file);

    // Another upload finds it as it is.
    let other = FileVersion {
        e_tag: "\"etag-2\"".into(),
        version_id: None,
    };
    assert_eq!(
        imports.start(import.id, 99, &other, now()).await.unwrap(),
        Some(import.clone())
    );
    // So does any upload once it has ended, and an unknown import is none.
    imports.finish(import.id, None, now()).await.unwrap();
    let done = imports.get(import.id).await.unwrap().unwrap();
    assert_eq!(done.status, ImportStatus::Done);
    assert_eq!(
        imports.start(import.id, 10, &again, now()).await.unwrap(),
        Some(done)
    );
    assert_eq!(
        imports
            .start(ImportId::random(), 1, &other, now())
            .await
            .unwrap(),
        None
    );

    // An upload without versioning pins its ETag alone.
    let pending = Import::pending(CompanyId::parse("acme").unwrap(), ImportFormat::Csv, now());
    imports.create(&pending).await.unwrap();
    let started = imports
        .start(pending.id, 3, &other, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(started.file, Some(other));
}

#[tokio::test]
async fn an_import_ends_once_and_leaves_the_open_list() {
    let store = store().await;
    let imports = imports(&store).await;
    let acme = CompanyId::parse("acme").unwrap();
    let done = running(&imports).await;
    let failed = running(&imports).await;
    let waiting = Import::pending(acme.clone(), ImportFormat::Csv, now());
    imports.create(&waiting).await.unwrap();
    let elsewhere = Import::pending(CompanyId::parse("other").unwrap(), ImportFormat::Csv, now());
    imports.create(&elsewhere).await.unwrap();
    let open = |list: Vec<Import>| list.into_iter().map(|i| i.id).collect::<HashSet<_>>();
    assert_eq!(
        open(imports.open(&acme).await.unwrap()),
        HashSet::from([done.id, failed.id, waiting.id])
    );

    let later = now() + Duration::minutes(5);
    imports.finish(done.id, None, later).await.unwrap();
    imports
        .finish(failed.id, Some("the file is not UTF-8"), later)
        .await
        .unwrap();
    let ended = imports.get(done.id).await.unwrap().unwrap();
    assert_eq!(
        (ended.status, ended.reason, ended.updated_at),
        (ImportStatus::Done, None, later)
    );
    let ended = imports.get(failed.id).await.unwrap().unwrap();
    assert_eq!(ended.status, ImportStatus::Failed);
    assert_eq!(ended.reason.as_deref(), Some("the file is not UTF-8"));
    assert_eq!(
        open(imports.open(&acme).await.unwrap()),
        HashSet::from([waiting.id])
    );

    // Finishing again (another delivery) changes nothing and is no error.
    imports
        .finish(done.id, Some("late"), later + Duration::minutes(1))
        .await
        .unwrap();
    let still = imports.get(done.id).await.unwrap().unwrap();
    assert_eq!(
        (still.status, still.updated_at),
        (ImportStatus::Done, later)
    );
}

#[tokio::test]
async fn only_a_pending_import_expires() {
    let store = store().await;
    let imports = imports(&store).await;
    let acme = CompanyId::parse("acme").unwrap();
    let waiting = Import::pending(acme.clone(), ImportFormat::Jsonl, now());
    imports.create(&waiting).await.unwrap();
    let busy = running(&imports).await;

    let later = now() + Duration::hours(1);
    imports
        .expire(waiting.id, "no file was uploaded", later)
        .await
        .unwrap();
    imports
        .expire(busy.id, "no file was uploaded", later)
        .await
        .unwrap();

    let expired = imports.get(waiting.id).await.unwrap().unwrap();
    assert_eq!(expired.status, ImportStatus::Failed);
    assert_eq!(expired.reason.as_deref(), Some("no file was uploaded"));
    assert_eq!(expired.updated_at, later);
    assert_eq!(
        imports.get(busy.id).await.unwrap().unwrap(),
        busy,
        "a running import goes on"
    );
    let open: Vec<_> = imports
        .open(&acme)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(open, vec![busy.id]);
}

#[tokio::test]
async fn a_missing_imports_table_is_an_error_at_every_step() {
    let store = store().await;
    let imports = ImportTable::new(
        store.client().clone(),
        "no-such-table".into(),
        "nor-this".into(),
    );
    let id = ImportId::random();
    let file = FileVersion {
        e_tag: "\"e\"".into(),
        version_id: None,
    };
    assert!(imports.start(id, 1, &file, now()).await.is_err());
    assert!(imports.expire(id, "why", now()).await.is_err());
    assert!(imports.finish(id, None, now()).await.is_err());
    assert!(imports.finish(id, Some("why"), now()).await.is_err());
    assert!(
        imports
            .open(&CompanyId::parse("acme").unwrap())
            .await
            .is_err()
    );
    let batch = ImportBatch {
        import: id,
        from_row: 1,
        to_row: 2,
        writes: vec![(product("m1", "acme", 1), None)],
        errors: vec![],
        at: now(),
        by: test_support::actor("acme"),
    };
    assert!(imports.commit(&batch).await.is_err());
}

/// The store over a client whose writes meet DynamoDB's per-item write limit, answered on the
/// wire as DynamoDB answers a hot key (the fault layer's `--item-write-limit`).
fn limited(store: &DynamoStore, per_second: u32) -> (DynamoStore, Arc<faults::ItemWriteLimit>) {
    let limit = Arc::new(faults::ItemWriteLimit::new(per_second));
    let config = store
        .client()
        .config()
        .to_builder()
        .http_client(limit.default_client())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    (DynamoStore::new(client, store.tables().clone()), limit)
}

#[tokio::test]
async fn a_hot_product_past_its_write_limit_is_a_transient_refusal_naming_it() {
    let store = store().await;
    store.save(&product("hot", "acme", 50), None).await.unwrap();
    store
        .save(&product("cool", "acme", 50), None)
        .await
        .unwrap();
    // Four units a second: two orders' transactional writes (2 units each) of one product.
    let (limited, limit) = limited(&store, 4);
    for _ in 0..2 {
        let placed = order("cust-1", &[("hot", 1)], now());
        assert!(matches!(
            limited.record(&placed).await.unwrap(),
            RecordOutcome::Accepted(_)
        ));
    }
    let third = order("cust-1", &[("cool", 1), ("hot", 2)], now());
    match limited.record(&third).await {
        // TransactionCanceledException: ThrottlingError for the hot line alone.
        Err(PortError::Transient(detail)) => {
            assert!(detail.contains("ThrottlingError"), "{detail}");
            assert!(detail.contains("throttled products: hot"), "{detail}");
            assert!(!detail.contains("cool"), "{detail}");
            assert!(!detail.contains("None"), "only the reasons given: {detail}");
        }
        other => panic!("a throttled reservation is transient: {other:?}"),
    }
    // Nothing was written: neither line's stock, nor the order.
    assert_eq!(stock_of(&store, "hot").await.0, 48);
    assert_eq!(stock_of(&store, "cool").await.0, 50);
    assert_eq!(OrderStore::get(&store, third.id).await.unwrap(), None);

    // A standard write past the limit: ThrottlingException, which the SDK retries (three
    // attempts within 150 ms, less than the quarter second one unit takes to come back).
    let mut next = product("hot", "acme", 10);
    next.version = 4;
    let refused = limited.save(&next, Some(3)).await.unwrap_err();
    assert!(
        matches!(&refused, PortError::Transient(d) if d.contains("ThrottlingException")),
        "{refused:?}"
    );
    // Refused: the transaction once, and each of the write's three attempts.
    let label = format!("{}/hot", store.tables().products);
    assert_eq!(
        limit.refused(),
        std::collections::BTreeMap::from([(label, 4)])
    );
}

/// Empties an item's write units: its next write is throttled (and the SDK's three attempts,
/// 150 ms at most, come back before a unit does at 2 a second).
fn exhaust(limit: &faults::ItemWriteLimit, table: &str, id: &str) {
    let write = faults::Write {
        items: vec![faults::ItemKey {
            table: table.into(),
            id: id.into(),
        }],
        transactional: false,
    };
    while limit.take(&write, std::time::Instant::now()).is_empty() {}
}

fn throttled<T: std::fmt::Debug>(what: &str, result: Result<T, PortError>) {
    match result {
        Err(PortError::Transient(detail)) if detail.contains("ThrottlingException") => {}
        other => panic!("{what}: a throttled write is a transient error, not {other:?}"),
    }
}

/// A write refused for another reason than its condition (here DynamoDB's throttling) is an
/// error to retry: never read as "the condition failed" (claim held, already recorded, key used
/// before, import already ended), which would drop the write.
#[tokio::test]
async fn a_throttled_write_is_never_taken_for_a_failed_condition() {
    let store = store().await;
    store.save(&product("t1", "acme", 5), None).await.unwrap();
    let accepted = order("cust-1", &[("t1", 1)], now());
    store.record(&accepted).await.unwrap();
    let (limited, limit) = limited(&store, 2);
    let orders = store.tables().orders.clone();
    let id = accepted.id.to_string();
    let carrier = CarrierRef {
        id: CarrierId::parse("rapid").unwrap(),
        name: "Rapid".into(),
    };
    let lease = Duration::minutes(1);

    exhaust(&limit, &orders, &id);
    throttled(
        "claim",
        limited
            .claim_dispatch(accepted.id, "a", now(), lease, now())
            .await,
    );
    store
        .claim_dispatch(accepted.id, "a", now(), lease, now())
        .await
        .unwrap();
    exhaust(&limit, &orders, &id);
    throttled(
        "hold",
        limited
            .hold_texted(accepted.id, "a", &carrier, now(), lease)
            .await,
    );
    exhaust(&limit, &orders, &id);
    throttled(
        "release",
        limited.release_dispatch_claim(accepted.id, "a").await,
    );
    exhaust(&limit, &orders, &id);
    throttled(
        "dispatch",
        limited
            .mark_dispatched(accepted.id, &carrier, now(), now())
            .await,
    );
    assert_eq!(
        OrderStore::get(&store, accepted.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        OrderStatus::Accepted,
        "nothing was written"
    );

    let rejected = order("cust-2", &[("t1", 1)], now()).rejected(RejectReason::OutOfStock);
    exhaust(&limit, &orders, &rejected.id.to_string());
    throttled("record rejected", limited.record(&rejected).await);

    let keys = key_uses(&store).await;
    let limited_keys = KeyUseTable::new(limited.client().clone(), "keys-test".into());
    let used = key_use("cust-1", "k", None);
    keys.remember(&used).await.unwrap();
    exhaust(&limit, "keys-test", &used.order_id.to_string());
    throttled("remember", limited_keys.remember(&used).await);

    let imports_table = imports(&store).await;
    let limited_imports = ImportTable::new(
        limited.client().clone(),
        "imports-test".into(),
        store.tables().products.clone(),
    );
    let import = running(&imports_table).await;
    let file = import.file.clone().unwrap();
    exhaust(&limit, "imports-test", &import.id.to_string());
    throttled(
        "start",
        limited_imports.start(import.id, 10, &file, now()).await,
    );
}

#[tokio::test]
async fn a_released_claim_frees_the_order_at_once_and_only_its_holder_releases_it() {
    let store = store().await;
    store.save(&product("r1", "acme", 5), None).await.unwrap();
    let o = order("alice", &[("r1", 1)], now());
    store.record(&o).await.unwrap();
    let lease = Duration::hours(1);
    let claim = store
        .claim_dispatch(o.id, "a", now(), lease, now())
        .await
        .unwrap();
    assert_eq!(claim, Claim::Taken);
    // Another's release leaves the claim as it is.
    store.release_dispatch_claim(o.id, "b").await.unwrap();
    let claim = store
        .claim_dispatch(o.id, "b", now(), lease, now())
        .await
        .unwrap();
    assert_eq!(claim, Claim::Held);
    // The holder's frees it long before its lease runs out.
    store.release_dispatch_claim(o.id, "a").await.unwrap();
    let claim = store
        .claim_dispatch(o.id, "b", now(), lease, now())
        .await
        .unwrap();
    assert_eq!(claim, Claim::Taken);
}

#[tokio::test]
async fn a_rejection_recorded_twice_is_already_recorded_and_every_order_is_listed() {
    let store = store().await;
    store.save(&product("q1", "acme", 5), None).await.unwrap();
    let rejected = order("cust-1", &[("q1", 1)], now()).rejected(RejectReason::OutOfStock);
    assert_eq!(
        store.record(&rejected).await.unwrap(),
        RecordOutcome::Rejected(rejected.clone())
    );
    assert_eq!(
        store.record(&rejected).await.unwrap(),
        RecordOutcome::AlreadyRecorded(rejected.clone())
    );
    let accepted = order("cust-2", &[("q1", 2)], now());
    store.record(&accepted).await.unwrap();
    let mut all: Vec<OrderId> = store
        .all_orders()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    all.sort();
    let mut expected = vec![rejected.id, accepted.id];
    expected.sort();
    assert_eq!(all, expected);
}

#[tokio::test]
async fn a_key_in_its_last_second_is_still_remembered() {
    let store = store().await;
    let keys = key_uses(&store).await;
    let used = key_use("cust-1", "last", None);
    keys.remember(&used).await.unwrap();
    store
        .client()
        .update_item()
        .table_name("keys-test")
        .key("id", AttributeValue::S(used.order_id.to_string()))
        .update_expression("SET expires_at = :now")
        .expression_attribute_values(
            ":now",
            AttributeValue::N(Utc::now().timestamp().to_string()),
        )
        .send()
        .await
        .unwrap();
    // Alive until its second is over, for the write's condition and the read alike (past it, a
    // first use again).
    let mut again = used.clone();
    again.fingerprint = "another".into();
    match keys.remember(&again).await.unwrap() {
        Remembered::Before(earlier) => assert_eq!(earlier, used),
        Remembered::First => assert_eq!(keys.recall(used.order_id).await.unwrap(), Some(again)),
    }
}

#[tokio::test]
async fn a_table_that_cannot_be_created_is_an_error() {
    let store = store().await;
    // DynamoDB's table names are 3 to 255 characters.
    let refused = create_table(store.client(), "ab", schema::IMPORTS).await;
    assert!(refused.is_err(), "{refused:?}");
}

fn author(request: &str) -> domain::history::Author {
    domain::history::Author {
        by: test_support::actor("acme"),
        via: domain::history::Via::RequestId(request.to_owned()),
    }
}

/// A company's change writes its entry in the same transaction: a change refused for its
/// version writes none, and the entries page newest first.
#[tokio::test]
async fn a_change_and_its_history_entry_are_written_together_and_read_newest_first() {
    let store = store().await.with_history("history".into());
    let p1 = ProductId::parse("p1").unwrap();
    store
        .save_as(&product("p1", "acme", 5), None, &author("r1"))
        .await
        .unwrap();
    for (version, stock) in [(2, 7), (3, 9)] {
        let next = Product {
            version,
            ..product("p1", "acme", stock)
        };
        store
            .save_as(&next, Some(version - 1), &author(&format!("r{version}")))
            .await
            .unwrap();
    }
    // A stale version: neither the product nor an entry is written.
    let stale = Product {
        version: 9,
        ..product("p1", "acme", 100)
    };
    assert_eq!(
        store
            .save_as(&stale, Some(1), &author("stale"))
            .await
            .unwrap_err(),
        PortError::Conflict
    );
    let first = PageRequest {
        limit: 2,
        cursor: None,
    };
    let page = store.history(&p1, &first).await.unwrap();
    let versions: Vec<u64> = page.items.iter().map(|e| e.version).collect();
    assert_eq!(versions, [3, 2]);
    assert_eq!(page.items[0].changes["stock"].from, serde_json::json!(7));
    assert_eq!(page.items[0].changes["stock"].to, serde_json::json!(9));
    assert_eq!(page.items[0].changes.len(), 1, "only the stock changed");
    assert_eq!(
        page.items[0].via,
        domain::history::Via::RequestId("r3".into())
    );
    assert_eq!(page.items[0].by, test_support::actor("acme"));
    let next = PageRequest {
        limit: 2,
        cursor: page.next_cursor.clone(),
    };
    let rest = store.history(&p1, &next).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(
        rest.items[0].changes["name"].from,
        serde_json::Value::Null,
        "created"
    );
    // A cursor of another product's history is refused, not followed.
    let other = ProductId::parse("p2").unwrap();
    assert_eq!(
        store.history(&other, &next).await.unwrap_err(),
        PortError::InvalidCursor
    );
    // An entry is kept 400 days (DynamoDB's TTL reads epoch seconds).
    let item = store
        .client()
        .get_item()
        .table_name("history")
        .key("id", AttributeValue::S("p1".into()))
        .key("version", AttributeValue::S(format!("{:020}", 3)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    assert_eq!(expires, now().timestamp() + 400 * 24 * 3600);
    // Without a history table, a company's change is refused whole.
    let plain = test_support::store().await;
    let err = plain
        .save_as(&product("p9", "acme", 1), None, &author("r"))
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Permanent(_)), "{err:?}");
    assert_eq!(
        Catalog::get(&plain, &ProductId::parse("p9").unwrap())
            .await
            .unwrap(),
        None
    );
}

/// An import's batch writes each row's entry, naming the import and who started it.
#[tokio::test]
async fn an_import_batch_writes_each_row_s_history_entry() {
    let store = store().await.with_history("history".into());
    let imports = imports(&store).await;
    let import = running(&imports).await;
    store.save(&product("old", "acme", 1), None).await.unwrap();
    let changed = Product {
        version: 2,
        ..product("old", "acme", 4)
    };
    let batch = ImportBatch {
        import: import.id,
        from_row: 1,
        to_row: 3,
        writes: vec![(changed, Some(1)), (product("new", "acme", 2), None)],
        errors: vec![],
        at: now(),
        by: test_support::actor("acme"),
    };
    assert_eq!(
        imports.commit(&batch).await.unwrap(),
        BatchOutcome::Committed
    );
    let first = PageRequest {
        limit: 10,
        cursor: None,
    };
    for (id, field, from) in [
        ("old", "stock", serde_json::json!(1)),
        ("new", "stock", serde_json::Value::Null),
    ] {
        let page = store
            .history(&ProductId::parse(id).unwrap(), &first)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1, "{id}");
        let entry = &page.items[0];
        assert_eq!(entry.via, domain::history::Via::ImportId(import.id));
        assert_eq!(entry.by.sub, "acme-admin");
        assert_eq!(entry.changes[field].from, from, "{id}");
    }
}

/// The timeline is kept by the writes the pipeline makes anyway: the record's put, the first
/// claim (the event's publish time), and the dispatch (the SMS's time), each kept once.
#[tokio::test]
async fn an_order_keeps_each_step_of_its_timeline_once() {
    let store = store().await;
    store.save(&product("a", "acme", 5), None).await.unwrap();
    let placed = now();
    let (recorded, announced, texted) = (
        placed + Duration::milliseconds(7),
        placed + Duration::milliseconds(9),
        placed + Duration::milliseconds(30),
    );
    let o = Order {
        recorded_at: Some(recorded),
        ..order("alice", &[("a", 1)], placed)
    };
    store.record(&o).await.unwrap();
    let lease = Duration::seconds(60);
    let first = store.claim_dispatch(o.id, "a", announced, lease, announced);
    assert_eq!(first.await.unwrap(), Claim::Taken);
    // A redelivery's claim comes later and announces nothing new.
    let later = announced + Duration::seconds(90);
    let again = store.claim_dispatch(o.id, "b", later, lease, later);
    assert_eq!(again.await.unwrap(), Claim::Taken);
    let carrier = CarrierRef {
        id: CarrierId::parse("fast").unwrap(),
        name: "Fast".into(),
    };
    let dispatched = texted + Duration::milliseconds(4);
    let marked = store.mark_dispatched(o.id, &carrier, texted, dispatched);
    let order = marked.await.unwrap();
    let timeline = order.timeline();
    assert_eq!(
        (
            timeline.placed_at,
            timeline.recorded_at,
            timeline.announced_at
        ),
        (placed, Some(recorded), Some(announced))
    );
    assert_eq!(
        (timeline.texted_at, timeline.dispatched_at),
        (Some(texted), Some(dispatched))
    );
    assert_eq!(order.order_to_sms(), Some(Duration::milliseconds(30)));
    let read = OrderStore::get(&store, o.id).await.unwrap().unwrap();
    assert_eq!(read.timeline(), timeline, "as read back");
}

/// An SMS recorded on the claim (its dispatch could not be written) keeps its own time: the
/// dispatch recorded later does not move it.
#[tokio::test]
async fn a_held_sms_keeps_its_time_through_the_later_dispatch() {
    let store = store().await;
    store.save(&product("a", "acme", 5), None).await.unwrap();
    let o = order("alice", &[("a", 1)], now());
    store.record(&o).await.unwrap();
    let lease = Duration::seconds(60);
    let claim = store.claim_dispatch(o.id, "a", now(), lease, now());
    assert_eq!(claim.await.unwrap(), Claim::Taken);
    let carrier = CarrierRef {
        id: CarrierId::parse("fast").unwrap(),
        name: "Fast".into(),
    };
    let texted = now() + Duration::seconds(1);
    let held = store.hold_texted(o.id, "a", &carrier, texted, lease);
    assert_eq!(held.await.unwrap(), Claim::Taken);
    let late = now() + Duration::seconds(40);
    let order = store
        .mark_dispatched(o.id, &carrier, late, late)
        .await
        .unwrap();
    assert_eq!(order.texted_at, Some(texted));
    assert_eq!(order.dispatched_at, Some(late));
}
