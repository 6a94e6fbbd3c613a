//! `update-product` fed API Gateway REST (v1) events over the real DynamoDB adapter (dynoxide).

use std::sync::Arc;

use composition::App;
use http_kit::{Cors, Endpoint};
use serde_json::{Value, json};
use test_support::{error_fields, parts, principal, request};
use update_product::UpdateProduct;

/// The function over dynoxide.
async fn app() -> Arc<Endpoint<UpdateProduct>> {
    let (adapters, _) = test_support::adapters().await;
    let function = UpdateProduct::new(&adapters).await.unwrap();
    Arc::new(Endpoint::new(function, Cors::new(vec!["*".into()])))
}

async fn call(
    app: &Endpoint<UpdateProduct>,
    method: &str,
    id: &str,
    company: &str,
    body: &Value,
    if_match: Option<&str>,
) -> (u16, Option<String>, Value) {
    let user = principal(
        &format!("{company}-user"),
        "products:read products:write",
        Some(company),
    );
    let headers: Vec<(&str, &str)> = if_match.map(|v| vec![("if-match", v)]).unwrap_or_default();
    let req = request(
        method,
        &format!("/products/{id}"),
        "/products/{id}",
        user,
        Some(&body.to_string()),
        &headers,
    );
    let response = app.call(req).await;
    let (status, headers, json) = parts(&response);
    let etag = headers.get("etag").map(|v| v.to_str().unwrap().to_owned());
    (status, etag, json)
}

fn margherita() -> Value {
    json!({"name": "Margherita", "price": {"amount": "12.50", "currency": "USD"}, "stock": 10})
}

#[tokio::test]
async fn put_creates_then_replaces_and_patch_changes_only_given_fields() {
    let app = app().await;
    let (status, etag, p) = call(&app, "PUT", "pizza", "acme", &margherita(), None).await;
    assert_eq!((status, etag.as_deref()), (201, Some("\"1\"")));
    assert_eq!(
        (
            p["company_id"].as_str(),
            p["available"].as_bool(),
            p["description"].as_str()
        ),
        (Some("acme"), Some(true), Some(""))
    );
    let (status, etag, _) = call(&app, "PUT", "pizza", "acme", &margherita(), Some("\"1\"")).await;
    assert_eq!((status, etag.as_deref()), (200, Some("\"2\"")));
    let (status, etag, p) = call(
        &app,
        "PATCH",
        "pizza",
        "acme",
        &json!({"price": {"amount": "9.99", "currency": "USD"}}),
        None,
    )
    .await;
    assert_eq!((status, etag.as_deref()), (200, Some("\"3\"")));
    assert_eq!(
        (
            p["name"].as_str(),
            p["stock"].as_u64(),
            p["price"]["amount"].as_str()
        ),
        (Some("Margherita"), Some(10), Some("9.99"))
    );
}

#[tokio::test]
async fn stale_if_match_is_412_and_changes_nothing() {
    let app = app().await;
    call(&app, "PUT", "pizza", "acme", &margherita(), None).await;
    call(&app, "PATCH", "pizza", "acme", &json!({"stock": 5}), None).await;
    let (status, _, problem) = call(
        &app,
        "PATCH",
        "pizza",
        "acme",
        &json!({"stock": 0}),
        Some("\"1\""),
    )
    .await;
    assert_eq!(status, 412, "{problem}");
    let (_, etag, p) = call(
        &app,
        "PATCH",
        "pizza",
        "acme",
        &json!({"available": true}),
        None,
    )
    .await;
    assert_eq!(
        (etag.as_deref(), p["stock"].as_u64()),
        (Some("\"3\""), Some(5))
    );
    let (status, _, _) = call(&app, "PATCH", "absent", "acme", &json!({"stock": 1}), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn another_companys_product_is_403() {
    let app = app().await;
    call(&app, "PUT", "pizza", "acme", &margherita(), None).await;
    assert_eq!(
        call(&app, "PUT", "pizza", "globex", &margherita(), None)
            .await
            .0,
        403
    );
    assert_eq!(
        call(&app, "PATCH", "pizza", "globex", &json!({"stock": 0}), None)
            .await
            .0,
        403
    );
    // A token without a company cannot write at all.
    let user = principal("alice", "products:write", None);
    let req = request(
        "PUT",
        "/products/x",
        "/products/{id}",
        user,
        Some(&margherita().to_string()),
        &[],
    );
    assert_eq!(parts(&app.call(req).await).0, 403);
}

#[tokio::test]
async fn money_validation_names_the_field() {
    let app = app().await;
    let cases = [
        (
            json!({"amount": "12.500", "currency": "USD"}),
            "price.amount",
        ),
        (
            json!({"amount": "-1.00", "currency": "USD"}),
            "price.amount",
        ),
        (json!({"amount": "0.00", "currency": "USD"}), "price.amount"),
        (json!({"amount": 12.5, "currency": "USD"}), "price.amount"),
        (
            json!({"amount": "12.50", "currency": "XXX"}),
            "price.currency",
        ),
        (
            json!({"amount": "99999999999999999999.00", "currency": "USD"}),
            "price.amount",
        ),
        (
            json!({"amount": "1200.00", "currency": "JPY"}),
            "price.amount",
        ),
        (json!("12.50"), "price"),
    ];
    for (price, field) in cases {
        let body = json!({"name": "X", "price": price, "stock": 1});
        let (status, _, problem) = call(&app, "PUT", "p", "acme", &body, None).await;
        assert_eq!(status, 400, "{price}");
        assert_eq!(error_fields(&problem), [field], "{price}");
    }
    let (status, _, problem) = call(&app, "PUT", "bad%20id!", "acme", &margherita(), None).await;
    assert_eq!(
        (status, error_fields(&problem)),
        (400, vec!["id".to_owned()])
    );
    let (status, _, problem) = call(&app, "PUT", "p", "acme", &margherita(), Some("3")).await;
    assert_eq!(
        (status, error_fields(&problem)),
        (400, vec!["If-Match".to_owned()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_with_the_same_if_match_exactly_one_wins() {
    let app = app().await;
    call(&app, "PUT", "pizza", "acme", &margherita(), None).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let app = Arc::clone(&app);
        tasks.spawn(async move {
            call(
                &app,
                "PATCH",
                "pizza",
                "acme",
                &json!({"stock": i}),
                Some("\"1\""),
            )
            .await
            .0
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412, 412, 412, 412, 412, 412, 412]);
}

/// `GET /products/{id}/history` as `company` reads it.
async fn history(
    app: &Endpoint<UpdateProduct>,
    id: &str,
    company: &str,
    query: &str,
) -> (u16, Value) {
    let user = principal(
        &format!("{company}-user"),
        "products:read products:write",
        Some(company),
    );
    let path = format!("/products/{id}/history{query}");
    let req = request("GET", &path, "/products/{id}/history", user, None, &[]);
    let response = app.call(req).await;
    let (status, _, json) = parts(&response);
    (status, json)
}

#[tokio::test]
async fn each_write_keeps_who_made_it_and_what_changed_for_its_company_only() {
    let app = app().await;
    assert_eq!(
        call(&app, "PUT", "pizza", "acme", &margherita(), None)
            .await
            .0,
        201
    );
    let patch = json!({"stock": 4, "stock_shards": 2});
    assert_eq!(
        call(&app, "PATCH", "pizza", "acme", &patch, Some("\"1\""))
            .await
            .0,
        200
    );
    // A refused write (a stale version) keeps no entry.
    assert_eq!(
        call(&app, "PATCH", "pizza", "acme", &patch, Some("\"1\""))
            .await
            .0,
        412
    );

    let (status, page) = history(&app, "pizza", "acme", "?limit=1").await;
    assert_eq!(status, 200, "{page}");
    let newest = &page["items"][0];
    assert_eq!(newest["version"], 2);
    assert_eq!(
        newest["by"],
        json!({"sub": "acme-user", "company_id": "acme"})
    );
    assert!(
        newest["via"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{newest}"
    );
    assert_eq!(
        newest["changes"],
        json!({"stock": {"from": 10, "to": 4}, "stock_shards": {"from": 1, "to": 2}})
    );
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (status, rest) = history(&app, "pizza", "acme", &format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["items"][0]["version"], 1);
    assert_eq!(
        rest["items"][0]["changes"]["price"]["to"],
        json!({"amount": "12.50", "currency": "USD"})
    );
    // A full page may still name a cursor (DynamoDB stops at the limit before it knows); the
    // page after it is then empty and the last.
    if let Some(cursor) = rest["next_cursor"].as_str() {
        let query = format!("?limit=1&cursor={cursor}");
        let (status, last) = history(&app, "pizza", "acme", &query).await;
        assert_eq!(status, 200, "{last}");
        assert_eq!(
            (&last["items"], &last["next_cursor"]),
            (&json!([]), &Value::Null)
        );
    }

    // Another company, and a product that does not exist, are the same 404.
    let (theirs, _) = history(&app, "pizza", "globex", "").await;
    let (absent, _) = history(&app, "nothing", "acme", "").await;
    assert_eq!((theirs, absent), (404, 404));
    // Bad paging is a 400 naming the parameter.
    let (status, problem) = history(&app, "pizza", "acme", "?limit=0").await;
    assert_eq!(
        (status, error_fields(&problem)),
        (400, vec!["limit".to_owned()])
    );
    let (status, _) = history(&app, "pizza", "acme", "?cursor=bm90LWEtY3Vyc29y").await;
    assert_eq!(status, 400);
}
