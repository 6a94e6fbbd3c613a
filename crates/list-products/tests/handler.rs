//! `list-products` fed API Gateway REST (v1) events over the real DynamoDB adapter (dynoxide).

use std::collections::HashSet;
use std::sync::Arc;

use domain::ports::Catalog;
use http_kit::{Cors, Endpoint};
use list_products::ListProducts;
use test_support::{error_fields, parts, principal, product, request, store};

async fn app() -> Endpoint<ListProducts> {
    let store = store().await;
    for i in 0..25 {
        let company = if i % 5 == 0 { "globex" } else { "acme" };
        store
            .save(&product(&format!("p{i:02}"), company, 100 + i, 10), None)
            .await
            .unwrap();
    }
    store
        .save(&product("pizza", "acme", 1250, 120), None)
        .await
        .unwrap();
    Endpoint::new(
        ListProducts {
            catalog: Arc::new(store),
        },
        Cors::new(vec!["https://shop.example.com".into()]),
    )
}

fn reader() -> std::collections::HashMap<String, serde_json::Value> {
    principal("alice", "products:read", None)
}

#[tokio::test]
async fn literal_api_gateway_event_gets_the_product_with_etag() {
    let app = app().await;
    let req = lambda_http::request::from_str(include_str!(
        "../../../fixtures/events/apigw-rest-get-product.json"
    ))
    .unwrap();
    let response = app.call(req).await;
    let (status, headers, body) = parts(&response);
    assert_eq!(status, 200);
    assert_eq!(headers["etag"], "\"1\"");
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://shop.example.com"
    );
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        body["price"],
        serde_json::json!({"amount": "12.50", "currency": "USD"})
    );
    assert_eq!(body["stock"], 120);
}

#[tokio::test]
async fn pages_through_every_product_exactly_once() {
    let app = app().await;
    let mut seen = Vec::new();
    let mut path = "/products?limit=4".to_owned();
    loop {
        let response = app
            .call(request("GET", &path, "/products", reader(), None, &[]))
            .await;
        let (status, _, body) = parts(&response);
        assert_eq!(status, 200, "{body}");
        seen.extend(
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned()),
        );
        match body["next_cursor"].as_str() {
            Some(c) => path = format!("/products?limit=4&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 26);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 26);
}

#[tokio::test]
async fn filters_by_company() {
    let app = app().await;
    let response = app
        .call(request(
            "GET",
            "/products?company_id=globex&limit=100",
            "/products",
            reader(),
            None,
            &[],
        ))
        .await;
    let (status, _, body) = parts(&response);
    assert_eq!(status, 200);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|p| p["company_id"] == "globex"));
    assert!(body["next_cursor"].is_null());
}

#[tokio::test]
async fn bad_paging_parameters_are_400_naming_the_field() {
    let app = app().await;
    for (query, fields) in [
        ("limit=0", vec!["limit"]),
        ("limit=101", vec!["limit"]),
        ("limit=abc", vec!["limit"]),
        ("cursor=not*a*cursor", vec!["cursor"]),
        ("cursor=eyJsIjoieCIsImsiOnt9fQ", vec!["cursor"]),
        ("company_id=a%20b&limit=-1", vec!["limit", "company_id"]),
    ] {
        let response = app
            .call(request(
                "GET",
                &format!("/products?{query}"),
                "/products",
                reader(),
                None,
                &[],
            ))
            .await;
        let (status, headers, body) = parts(&response);
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(error_fields(&body), fields, "{query}");
    }
}

#[tokio::test]
async fn unknown_product_is_404_and_scope_is_enforced_again() {
    let app = app().await;
    let (status, _, body) = parts(
        &app.call(request(
            "GET",
            "/products/nope",
            "/products/{id}",
            reader(),
            None,
            &[],
        ))
        .await,
    );
    assert_eq!((status, body["status"].as_u64()), (404, Some(404)));
    let (status, _, _) = parts(
        &app.call(request(
            "GET",
            "/products/bad%20id",
            "/products/{id}",
            reader(),
            None,
            &[],
        ))
        .await,
    );
    assert_eq!(status, 404);
    let writer = principal("bob", "orders:write", None);
    let (status, _, _) = parts(
        &app.call(request("GET", "/products", "/products", writer, None, &[]))
            .await,
    );
    assert_eq!(status, 403);
    let (status, _, _) = parts(
        &app.call(request(
            "GET",
            "/products",
            "/products",
            Default::default(),
            None,
            &[],
        ))
        .await,
    );
    assert_eq!(status, 401);
}
