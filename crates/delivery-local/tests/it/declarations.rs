//! Each function's declaration (`[package.metadata.lambda]`, read with `cargo metadata` by the
//! test command, packaging and the wiring check) names exactly the settings its wiring reads:
//! every declared function is built here, by the composition root as Lambda builds it, from a
//! settings source that records what it is asked. And each function's role grants every
//! DynamoDB call it makes: a tour of the API and the pipeline, sharded products included, is
//! held to the Terraform statements.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use composition::lambda::EventFunction;
use composition::{Adapters, App, AwsMessaging, endpoint, local_sdk_config};
use http_kit::HttpFunction;
use serde_json::json;
use settings::{ConfigError, Recorder, Source};

use crate::common::{BIN, Server};

/// A value for every setting a function may declare.
struct EverySetting {
    jwks: String,
}

impl Source for EverySetting {
    fn get(&self, name: &str) -> Option<String> {
        Some(match name {
            "JWKS" => self.jwks.clone(),
            "JWKS_URL" => return None,
            "CORS_ALLOWED_ORIGINS" => "https://shop.example.com".to_owned(),
            "ORDERS_QUEUE_URL" | "ORDERS_DLQ_URL" => {
                "https://sqs.eu-west-1.amazonaws.com/123456789012/orders".to_owned()
            }
            "EVENTS_TOPIC_ARN" => "arn:aws:sns:eu-west-1:123456789012:order-events".to_owned(),
            "ORDERS_PER_PRINCIPAL_PER_HOUR" => "60".to_owned(),
            "RECONCILE_ORDERS_AFTER_SECONDS" | "RECONCILE_IMPORTS_AFTER_SECONDS" => {
                "600".to_owned()
            }
            _ => "some-value".to_owned(),
        })
    }
}

async fn http<F: App + HttpFunction>(adapters: &Adapters) -> Result<&'static str, ConfigError> {
    endpoint::<F>(adapters).await.map(|_| F::NAME)
}

async fn event<F: EventFunction>(adapters: &Adapters) -> Result<&'static str, ConfigError> {
    F::new(adapters).await.map(|_| F::NAME)
}

/// Builds the function named `name` the way its `main` does; its name as the app says it.
async fn build(name: &str, adapters: &Adapters) -> Option<Result<&'static str, ConfigError>> {
    Some(match name {
        "authorizer" => event::<authorizer::Authorizer>(adapters).await,
        "list-products" => http::<list_products::ListProducts>(adapters).await,
        "order-total" => http::<order_total::OrderTotal>(adapters).await,
        "update-product" => http::<update_product::UpdateProduct>(adapters).await,
        "start-import" => http::<start_import::StartImport>(adapters).await,
        "place-order" => http::<place_order::PlaceOrder>(adapters).await,
        "get-order" => http::<get_order::GetOrder>(adapters).await,
        "order-simulator" => event::<order_simulator::SimulatorLambda>(adapters).await,
        "order-processor" => event::<order_processor::Processor>(adapters).await,
        "notify-carrier" => event::<notify_carrier::NotifyCarrier>(adapters).await,
        "import-catalog" => event::<import_catalog::ImportCatalog>(adapters).await,
        "pre-token" => event::<pre_token::PreToken>(adapters).await,
        "reconciler" => event::<reconciler::Reconciler>(adapters).await,
        _ => return None,
    })
}

#[tokio::test]
async fn every_function_reads_exactly_the_settings_it_declares() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let declared = wiring_check::declared_functions(&repo).unwrap();
    assert_eq!(declared.len(), 13, "{declared:?}");
    let jwks = token_signer::SigningKey::generate().unwrap().jwks();
    for function in declared {
        let recorder = Arc::new(Recorder::new(EverySetting { jwks: jwks.clone() }));
        // The SDK configuration of an endpoint nobody listens on: building clients sends nothing.
        let sdk = local_sdk_config("http://127.0.0.1:9");
        let messaging = Arc::new(AwsMessaging::new(&sdk));
        let adapters = Adapters::new(sdk, recorder.clone(), messaging);
        let built = build(&function.name, &adapters).await.unwrap_or_else(|| {
            panic!(
                "{} is declared but not built here: add it to build()",
                function.name
            )
        });
        assert_eq!(built.unwrap(), function.name, "the app's NAME");
        let asked: BTreeSet<String> = recorder.asked().into_iter().collect();
        let declared: BTreeSet<String> = function
            .settings
            .iter()
            .flat_map(|s| s.split('|'))
            .map(str::to_owned)
            .collect();
        assert_eq!(asked, declared, "{}: read vs declared", function.name);
    }
}

/// The calls a tour makes, function by function, against the grants of their roles: a
/// sharded product created, listed, ordered and its shards lowered by a `PATCH` and by an
/// import (deletes in a transaction, which IAM authorizes as `DeleteItem`), the bill, the
/// order read back, and a simulation.
#[test]
fn every_dynamodb_call_a_function_makes_is_granted_by_its_role() {
    let server = Server::start();
    let (acme, alice) = (server.company("acme"), server.customer());
    let product = json!({"name": "Flash", "price": {"amount": "2.50", "currency": "EUR"},
                         "stock": 40, "stock_shards": 4});
    let created = server.call(
        "PUT",
        "/products/flash",
        Some(&acme),
        Some(&product.to_string()),
        &[],
    );
    assert_eq!(created.status, 201, "{}", created.json);
    for path in ["/products", "/products?company_id=acme", "/products/flash"] {
        assert_eq!(
            server.call("GET", path, Some(&alice), None, &[]).status,
            200,
            "{path}"
        );
    }
    let lowered = server.call(
        "PATCH",
        "/products/flash",
        Some(&acme),
        Some(r#"{"stock_shards": 3}"#),
        &[],
    );
    assert_eq!(lowered.status, 200, "{}", lowered.json);
    let basket = json!({"items": [{"product_id": "flash", "quantity": 2}]});
    let order = json!({"items": basket["items"],
                       "delivery": {"address": "742 Evergreen Terrace", "phone": "+15551234567"}});
    let bill = server.call(
        "POST",
        "/orders/total",
        Some(&alice),
        Some(&basket.to_string()),
        &[],
    );
    assert_eq!(bill.status, 200, "{}", bill.json);
    let placed = server.call(
        "POST",
        "/orders",
        Some(&alice),
        Some(&order.to_string()),
        &[("idempotency-key", "tour-1")],
    );
    assert_eq!(placed.status, 202, "{}", placed.json);
    server.drained();
    let id = placed.json["order_id"].as_str().unwrap_or_default();
    for path in [format!("/orders/{id}"), "/orders".to_owned()] {
        let read = server.call("GET", &path, Some(&alice), None, &[]);
        assert_eq!(read.status, 200, "{path}: {}", read.json);
    }
    let file = server.dir.path().join("tour.csv");
    std::fs::write(
        &file,
        "id,name,description,price_amount,price_currency,stock,available,stock_shards\n\
         flash,Flash,,2.50,EUR,30,true,1\nfresh,Fresh,,1.00,EUR,9,true,3\n",
    )
    .unwrap();
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    for args in [
        vec![
            "import".into(),
            file.display().to_string(),
            "--company".into(),
            "acme".into(),
        ],
        vec!["simulate".into(), "--orders".into(), "20".into()],
    ] {
        let out = std::process::Command::new(BIN)
            .args(&args)
            .args(["--port", &port, "--data-dir"])
            .arg(server.dir.path())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The product's history: the PUT, the PATCH and the import's row, newest first, each
    // naming who made it.
    let history = server.call("GET", "/products/flash/history", Some(&acme), None, &[]);
    assert_eq!(history.status, 200, "{}", history.json);
    let vias: Vec<&str> = history.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            if e["via"]["import_id"].is_string() {
                "import"
            } else {
                "request"
            }
        })
        .collect();
    assert_eq!(vias, ["import", "request", "request"], "{}", history.json);
    // The import command signs as "importer"; the page's and curl's writes as their user.
    assert_eq!(history.json["items"][0]["by"]["sub"], "importer");
    assert_eq!(history.json["items"][1]["by"]["sub"], "acme-admin");
    assert_eq!(history.json["items"][0]["changes"]["stock_shards"]["to"], 1);
    let calls = server.assert_calls_granted();
    // The tour walked the sharded paths (reading shards, deleting those past a lower count)
    // and the history's (entries in transactions, read by a Query).
    for (function, action, table) in [
        ("update-product", "DeleteItem", "products"),
        ("update-product", "BatchGetItem", "products"),
        ("import-catalog", "DeleteItem", "products"),
        ("list-products", "BatchGetItem", "products"),
        ("order-simulator", "BatchGetItem", "products"),
        ("order-processor", "UpdateItem", "products"),
        ("update-product", "PutItem", "history"),
        ("update-product", "Query", "history"),
        ("import-catalog", "PutItem", "history"),
    ] {
        let grant = (format!("dynamodb:{action}"), table.to_owned());
        assert!(
            calls[function].contains(&grant),
            "{function} made no {action} on {table}: {calls:#?}"
        );
    }
}
