//! Each function's declaration (`[package.metadata.lambda]`, read with `cargo metadata` by the
//! test command, packaging and the wiring check) names exactly the settings its wiring reads:
//! every declared function is built here, by the composition root as Lambda builds it, from a
//! settings source that records what it is asked.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use composition::lambda::EventFunction;
use composition::{Adapters, App, AwsMessaging, endpoint, local_sdk_config};
use http_kit::HttpFunction;
use settings::{ConfigError, Recorder, Source};

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
        _ => return None,
    })
}

#[tokio::test]
async fn every_function_reads_exactly_the_settings_it_declares() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let declared = wiring_check::declared_functions(&repo).unwrap();
    assert_eq!(declared.len(), 12, "{declared:?}");
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
