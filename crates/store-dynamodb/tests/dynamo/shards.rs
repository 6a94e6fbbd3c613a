//! A product's stock over several items: what each item holds, how reads sum them, how a
//! company's write rewrites them, and how a reservation finds a shard with enough.

use super::*;

fn sharded(id: &str, stock: u32, shards: u8) -> Product {
    let mut p = product(id, "acme", stock);
    p.stock_shards = shards;
    p
}

/// Each item of the products table, by key: (stock, version, stock_shards).
async fn items(store: &DynamoStore) -> std::collections::BTreeMap<String, (i64, i64, i64)> {
    let out = store
        .client()
        .scan()
        .table_name(&store.tables().products)
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let number = |item: &std::collections::HashMap<String, AttributeValue>, name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .map_or(-1, |n| n.parse().unwrap())
    };
    out.items()
        .iter()
        .map(|item| {
            let id = item["id"].as_s().unwrap().clone();
            let numbers = (
                number(item, "stock"),
                number(item, "version"),
                number(item, "stock_shards"),
            );
            (id, numbers)
        })
        .collect()
}

fn accepted(outcome: RecordOutcome) -> bool {
    match outcome {
        RecordOutcome::Accepted(_) => true,
        RecordOutcome::Rejected(o) => {
            assert_eq!(o.reason, Some(RejectReason::OutOfStock));
            false
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_sharded_product_is_one_product_to_every_reader() {
    let store = store().await;
    store.save(&sharded("tea", 10, 4), None).await.unwrap();
    store.save(&product("cake", "acme", 3), None).await.unwrap();
    let stored = std::collections::BTreeMap::from([
        ("cake".to_owned(), (3, 1, 1)),
        ("tea".to_owned(), (3, 1, 4)),
        ("tea#1".to_owned(), (3, 0, 4)),
        ("tea#2".to_owned(), (2, 0, 4)),
        ("tea#3".to_owned(), (2, 0, 4)),
    ]);
    assert_eq!(items(&store).await, stored);
    let tea = sharded("tea", 10, 4);
    assert_eq!(
        Catalog::get(&store, &tea.id).await.unwrap(),
        Some(tea.clone())
    );
    let ids = [tea.id.clone(), ProductId::parse("cake").unwrap()];
    assert_eq!(store.get_many(&ids).await.unwrap().len(), 2);
    // Neither a customer's listing nor a company's shows a shard, page after page.
    let acme = CompanyId::parse("acme").unwrap();
    for company in [None, Some(&acme)] {
        let mut request = PageRequest {
            limit: 2,
            cursor: None,
        };
        let mut seen = Vec::new();
        loop {
            let page = Catalog::list(&store, company, &request).await.unwrap();
            seen.extend(page.items);
            match page.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => break,
            }
        }
        seen.sort_by(|a, b| a.id.cmp(&b.id));
        let names: Vec<_> = seen.iter().map(|p| (p.id.as_str(), p.stock)).collect();
        assert_eq!(names, [("cake", 3), ("tea", 10)], "{company:?}");
    }
}

#[tokio::test]
async fn each_reservation_takes_from_one_shard_and_moves_the_version() {
    let store = store().await;
    store.save(&sharded("tea", 4, 4), None).await.unwrap();
    for i in 0..4 {
        let placed = order(&format!("c{i}"), &[("tea", 1)], now());
        assert!(accepted(store.record(&placed).await.unwrap()), "order {i}");
    }
    // Every shard gave its one, each bumping its own version: the product's moved by four.
    assert_eq!(stock_of(&store, "tea").await, (0, 5));
    let fifth = order("c5", &[("tea", 1)], now());
    assert!(!accepted(store.record(&fifth).await.unwrap()));
    // A company that read version 1 is refused: a reservation moved the product since.
    let mut stale = sharded("tea", 40, 4);
    stale.version = 2;
    assert_eq!(store.save(&stale, Some(1)).await, Err(PortError::Conflict));
    stale.version = 6;
    store.save(&stale, Some(5)).await.unwrap();
    assert_eq!(stock_of(&store, "tea").await, (40, 6));
    let shards: Vec<_> = items(&store).await.into_values().collect();
    assert_eq!(shards, [(10, 6, 4), (10, 0, 4), (10, 0, 4), (10, 0, 4)]);
}

/// The documented bound: a line takes its quantity from one shard, so a line larger than any
/// one shard's stock is refused though the sum would cover it.
#[tokio::test]
async fn a_line_is_served_by_one_shard_with_enough() {
    let store = store().await;
    store.save(&sharded("tea", 4, 2), None).await.unwrap();
    let three = order("c1", &[("tea", 3)], now());
    assert!(!accepted(store.record(&three).await.unwrap()));
    let two = order("c2", &[("tea", 2)], now());
    assert!(accepted(store.record(&two).await.unwrap()));
    // The other shard still has two: found after the emptied one refuses, whichever is tried first.
    let again = order("c3", &[("tea", 2)], now());
    assert!(accepted(store.record(&again).await.unwrap()));
    assert_eq!(stock_of(&store, "tea").await, (0, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_race_for_the_last_one_across_shards_has_one_winner() {
    let store = Arc::new(store().await);
    store.save(&sharded("hot", 1, 8), None).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let placed = order(&format!("c{i}"), &[("hot", 1)], now());
            store.record(&placed).await.unwrap()
        });
    }
    let mut winners = 0;
    while let Some(outcome) = tasks.join_next().await {
        winners += usize::from(accepted(outcome.unwrap()));
    }
    assert_eq!(winners, 1);
    assert_eq!(stock_of(&store, "hot").await, (0, 2));
}

#[tokio::test]
async fn shards_added_or_removed_are_found_by_a_store_that_knew_the_old_count() {
    let store = store().await;
    // Another process (a company's write) changes the count under this one's memory.
    let company = DynamoStore::new(store.client().clone(), store.tables().clone());
    store.save(&sharded("tea", 8, 8), None).await.unwrap();
    assert_eq!(stock_of(&store, "tea").await, (8, 1)); // remembered: 8 shards
    let mut fewer = sharded("tea", 8, 2);
    fewer.version = 2;
    company.save(&fewer, Some(1)).await.unwrap();
    assert_eq!(
        items(&store).await.len(),
        2,
        "shards past the new count are deleted"
    );
    // Whichever shard it tries first (most are gone), every unit is found.
    for i in 0..4 {
        let placed = order(&format!("c{i}"), &[("tea", 2)], now());
        assert!(accepted(store.record(&placed).await.unwrap()), "order {i}");
    }
    assert_eq!(stock_of(&store, "tea").await, (0, 6));
    // And back up: shards added, each found once the remembered ones refuse.
    let mut more = sharded("tea", 6, 6);
    more.version = 7;
    company.save(&more, Some(6)).await.unwrap();
    for i in 0..6 {
        let placed = order(&format!("d{i}"), &[("tea", 1)], now());
        assert!(accepted(store.record(&placed).await.unwrap()), "order {i}");
    }
    assert_eq!(stock_of(&store, "tea").await, (0, 13));
}

/// The largest order over the most shards: 99 lines and the order's put, DynamoDB's 100
/// actions in one transaction.
#[tokio::test]
async fn ninety_nine_lines_over_thirty_two_shards_each_fit_one_transaction() {
    let store = store().await;
    let ids: Vec<String> = (0..99).map(|i| format!("p{i:02}")).collect();
    for id in &ids {
        store.save(&sharded(id, 64, 32), None).await.unwrap();
    }
    let lines: Vec<(&str, u32)> = ids.iter().map(|id| (id.as_str(), 2)).collect();
    let placed = order("big", &lines, now());
    assert!(accepted(store.record(&placed).await.unwrap()));
    for id in &ids {
        assert_eq!(stock_of(&store, id).await, (62, 2), "{id}");
    }
}

#[tokio::test]
async fn an_import_rewrites_the_shards_of_every_product_it_writes() {
    let store = store().await;
    let imports = imports(&store).await;
    let import = running(&imports).await;
    store.save(&sharded("tea", 9, 3), None).await.unwrap();
    let mut tea = sharded("tea", 5, 1);
    tea.version = 2;
    let cake = sharded("cake", 7, 2);
    let batch = ImportBatch {
        import: import.id,
        from_row: 1,
        to_row: 3,
        writes: vec![(tea, Some(1)), (cake, None)],
        errors: Vec::new(),
        at: now(),
        by: test_support::actor("acme"),
    };
    assert_eq!(
        imports.commit(&batch).await.unwrap(),
        BatchOutcome::Committed
    );
    let stored = std::collections::BTreeMap::from([
        ("cake".to_owned(), (4, 1, 2)),
        ("cake#1".to_owned(), (3, 0, 2)),
        ("tea".to_owned(), (5, 2, 1)),
    ]);
    assert_eq!(items(&store).await, stored);
    // A reservation since the read makes the product a changed one, as a PUT's would.
    let placed = order("c1", &[("cake", 1)], now());
    assert!(accepted(store.record(&placed).await.unwrap()));
    let batch = ImportBatch {
        import: import.id,
        from_row: 3,
        to_row: 4,
        writes: vec![(sharded("cake", 1, 1), Some(1))],
        errors: Vec::new(),
        at: now(),
        by: test_support::actor("acme"),
    };
    let cake = ProductId::parse("cake").unwrap();
    assert_eq!(
        imports.commit(&batch).await.unwrap(),
        BatchOutcome::Changed(vec![cake])
    );
}

#[tokio::test]
async fn a_hot_shard_s_throttle_is_transient_and_the_others_still_serve() {
    let store = store().await;
    store.save(&sharded("hot", 100, 2), None).await.unwrap();
    // Enough for shard 1 to take all six (2 units each); shard 0 is kept empty.
    let (limited, limit) = limited(&store, 40);
    let table = store.tables().products.clone();
    exhaust(&limit, &table, "hot");
    // Shard 0 is throttled: an order that tries it is a transient failure naming the product;
    // one that tries shard 1 is served. Retried (as the processor retries), each order lands.
    let mut served = 0;
    for i in 0..6 {
        let placed = order(&format!("c{i}"), &[("hot", 1)], now());
        for _ in 0..20 {
            match limited.record(&placed).await {
                Ok(outcome) => {
                    served += usize::from(accepted(outcome));
                    break;
                }
                Err(PortError::Transient(detail)) => {
                    assert!(detail.contains("throttled products: hot"), "{detail}");
                    exhaust(&limit, &table, "hot");
                }
                Err(other) => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(served, 6);
    let refused = limit.refused();
    assert_eq!(
        refused.get(&format!("{table}/hot#1")),
        None,
        "shard 1 was never throttled"
    );
    assert_eq!(stock_of(&store, "hot").await.0, 94);
}

/// A batch of exactly DynamoDB's 100 actions is committed; one more is refused before it is
/// sent, naming the limit (DynamoDB's own refusal would be a validation error naming none).
#[tokio::test]
async fn an_import_batch_of_a_hundred_actions_commits_and_one_more_is_refused() {
    let store = store().await;
    let imports = imports(&store).await;
    let import = running(&imports).await;
    // The checkpoint, then 33 new products of two shards, each with its history entry.
    let batch = |from_row: u64, writes: Vec<(Product, Option<u64>)>| ImportBatch {
        import: import.id,
        from_row,
        to_row: from_row + writes.len() as u64,
        writes,
        errors: Vec::new(),
        at: now(),
        by: test_support::actor("acme"),
    };
    let full = (0..33).map(|i| (sharded(&format!("a{i:02}"), 4, 2), None));
    let full = batch(1, full.collect());
    assert_eq!(
        imports.commit(&full).await.unwrap(),
        BatchOutcome::Committed
    );
    assert_eq!(items(&store).await.len(), 66);
    // The checkpoint and 50 products of one shard with their entries: 101.
    let over = (0..50).map(|i| (sharded(&format!("b{i:02}"), 4, 1), None));
    match imports.commit(&batch(34, over.collect())).await {
        Err(PortError::Permanent(detail)) => {
            assert!(detail.contains("101 actions"), "{detail}");
        }
        other => panic!("a batch past 100 actions is refused: {other:?}"),
    }
    assert_eq!(items(&store).await.len(), 66, "nothing of it was written");
}

/// A company's write lands between an order's refusals and its verdict: every shard refused
/// the line when it was tried, but one has enough now. The order reads the shards again
/// before it is refused for stock, and is served.
#[tokio::test]
async fn stock_moved_between_the_shards_during_an_order_is_found_before_it_is_refused() {
    let store = store().await;
    store.save(&sharded("tea", 2, 2), None).await.unwrap();
    let hook = AfterRefusals::new(2, store.clone());
    let config = store
        .client()
        .config()
        .to_builder()
        .http_client(hook.clone())
        .build();
    let ordering = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        store.tables().clone(),
    );
    // One in each shard: a line of two is refused by both.
    let placed = order("c1", &[("tea", 2)], now());
    assert!(accepted(ordering.record(&placed).await.unwrap()));
    assert_eq!(stock_of(&store, "tea").await, (2, 3));
}

/// An HTTP client that, after a given number of refused `TransactWriteItems`, writes the
/// product "tea" with four in stock (two a shard) through an unhooked store, as a company
/// would in between.
#[derive(Clone, Debug)]
struct AfterRefusals {
    inner: aws_smithy_runtime_api::client::http::SharedHttpClient,
    refusals: Arc<std::sync::atomic::AtomicUsize>,
    company: DynamoStore,
}

impl AfterRefusals {
    fn new(refusals: usize, company: DynamoStore) -> AfterRefusals {
        AfterRefusals {
            // The SDK's default client, behind a write limit no test reaches.
            inner: Arc::new(faults::ItemWriteLimit::new(1_000_000)).default_client(),
            refusals: Arc::new(refusals.into()),
            company,
        }
    }
}

mod hook {
    use super::*;
    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use std::sync::atomic::Ordering;

    impl HttpClient for AfterRefusals {
        fn http_connector(
            &self,
            settings: &HttpConnectorSettings,
            components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(Connector {
                inner: self.inner.http_connector(settings, components),
                hook: self.clone(),
            })
        }
    }

    #[derive(Debug)]
    struct Connector {
        inner: SharedHttpConnector,
        hook: AfterRefusals,
    }

    impl HttpConnector for Connector {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let target = request.headers().get("x-amz-target").unwrap_or_default();
            let transaction = target.ends_with(".TransactWriteItems");
            let answer = self.inner.call(request);
            let hook = self.hook.clone();
            HttpConnectorFuture::new(async move {
                let response = answer.await?;
                let refused = transaction && !response.status().is_success();
                if refused && hook.refusals.fetch_sub(1, Ordering::SeqCst) == 1 {
                    let mut more = sharded("tea", 4, 2);
                    more.version = 2;
                    hook.company
                        .save(&more, Some(1))
                        .await
                        .expect("the company's write");
                }
                Ok(response)
            })
        }
    }
}
