//! The DynamoDB adapter against dynoxide served in-process on an ephemeral loopback port,
//! through the real `aws-sdk-dynamodb` client: the same code path production takes.

use std::collections::HashSet;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use domain::carrier::Carrier;
use domain::import::{FileVersion, Import, ImportFormat, ImportId, ImportStatus, RowError};
use domain::order::{CarrierRef, Delivery, Order, OrderLine, OrderStatus, RejectReason};
use domain::ports::{BatchOutcome, ImportBatch, Imports};
use domain::ports::{Carriers, Catalog, Claim, OrderStore, PageRequest, RecordOutcome};
use domain::product::Product;
use domain::validation::FieldError;
use domain::{
    CarrierId, CompanyId, Currency, CustomerId, Money, OrderId, Phone, PortError, ProductId,
};
use store_dynamodb::schema::{self, create_table, create_tables};
use store_dynamodb::{DynamoStore, ImportTable, Tables};

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
            .claim_dispatch(o.id, "event-1", at, lease)
            .await
            .unwrap(),
        Claim::Taken
    );
    assert_eq!(
        store
            .claim_dispatch(o.id, "event-2", at, lease)
            .await
            .unwrap(),
        Claim::Held
    );
    assert_eq!(
        store
            .claim_dispatch(o.id, "event-1", at, lease)
            .await
            .unwrap(),
        Claim::Taken
    );
    assert_eq!(
        store
            .claim_dispatch(o.id, "event-2", at + Duration::seconds(61), lease)
            .await
            .unwrap(),
        Claim::Taken
    );
    // The holder sets the expiry: extended for hours, its claim holds against a claimant whose
    // own lease is short, until the extension runs out.
    let later = at + Duration::seconds(62);
    let held = Duration::hours(7);
    let taken = store.claim_dispatch(o.id, "event-2", later, held);
    assert_eq!(taken.await.unwrap(), Claim::Taken);
    for (claimant, when, expected) in [
        ("event-4", later + Duration::minutes(3), Claim::Held),
        ("event-4", later + held - Duration::seconds(1), Claim::Held),
        ("event-4", later + held + Duration::seconds(1), Claim::Taken),
    ] {
        let claim = store.claim_dispatch(o.id, claimant, when, Duration::seconds(1));
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
    let claim = store.claim_dispatch(o.id, "event-6", never, lease);
    assert_eq!(claim.await.unwrap(), Claim::Held, "texted: to be recorded");

    let dispatched = store.mark_dispatched(o.id, &fast, at).await.unwrap();
    assert_eq!(store.texted(o.id).await.unwrap(), None, "recorded");
    assert_eq!(
        store
            .claim_dispatch(o.id, "event-3", at + Duration::hours(1), lease)
            .await
            .unwrap(),
        Claim::Held,
        "dispatched: no claim"
    );
    assert_eq!(dispatched.status, OrderStatus::Dispatched);
    assert_eq!(dispatched.carrier, Some(fast.clone()));
    assert_eq!(dispatched.dispatched_at, Some(at));
    let again = store
        .mark_dispatched(o.id, &slow, at + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(again, dispatched, "the first dispatch stands");

    let rejected = order("alice", &[("a", 99)], now());
    store.record(&rejected).await.unwrap();
    assert!(matches!(
        store.mark_dispatched(rejected.id, &fast, at).await,
        Err(PortError::Permanent(_))
    ));
    let missing = order("zed", &[("a", 1)], now());
    assert_eq!(
        store.mark_dispatched(missing.id, &fast, at).await,
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
