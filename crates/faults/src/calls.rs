//! The DynamoDB calls each function makes, as IAM authorizes them: one action per table (or
//! index) per call, and one per item of a transaction (IAM checks a `TransactWriteItems`
//! item by item: a `Put` needs `dynamodb:PutItem`, a `Delete` `dynamodb:DeleteItem`). The
//! embedded store answers every call whatever a function's role; in AWS a call its role does
//! not grant is `AccessDeniedException`. `delivery-local` records the calls here (each
//! invocation runs inside [`as_function`]), and its test compares them with the Terraform
//! statements of each function's role, so that no path reaches AWS ungranted.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use serde_json::Value;

tokio::task_local! {
    static FUNCTION: &'static str;
}

/// Runs `work` as an invocation of `function`: its DynamoDB calls are recorded under its name.
pub async fn as_function<F: Future>(function: &'static str, work: F) -> F::Output {
    FUNCTION.scope(function, work).await
}

/// One grant a call needs: `dynamodb:<Action>` on a table or `<table>/index/<name>`.
pub type Grant = (String, String);

/// The grants each function's calls have needed so far.
#[derive(Debug, Default)]
pub struct CallLog {
    needed: Mutex<BTreeMap<String, BTreeSet<Grant>>>,
}

impl CallLog {
    pub fn new() -> Arc<CallLog> {
        Arc::default()
    }

    /// Function name → the grants its calls needed.
    pub fn needed(&self) -> BTreeMap<String, BTreeSet<Grant>> {
        self.needed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn record(&self, function: &str, grants: Vec<Grant>) {
        let mut needed = self.needed.lock().unwrap_or_else(|e| e.into_inner());
        needed
            .entry(function.to_owned())
            .or_default()
            .extend(grants);
    }

    /// `inner`, with every call made inside [`as_function`] recorded.
    pub fn client(self: &Arc<Self>, inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(RecordingClient {
            inner,
            log: self.clone(),
        })
    }
}

/// The grants one DynamoDB JSON request needs (`X-Amz-Target` and body).
pub fn grants_of(target: &str, body: &[u8]) -> Vec<Grant> {
    let Some(operation) = target.strip_prefix("DynamoDB_20120810.") else {
        return Vec::new();
    };
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let grant = |action: &str, table: &str| (format!("dynamodb:{action}"), table.to_owned());
    match operation {
        "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .flat_map(|item| item.iter())
            .filter_map(|(kind, action)| {
                let table = action["TableName"].as_str()?;
                let needs = match kind.as_str() {
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    other => return Some(grant(&format!("{other}Item"), table)),
                };
                Some(grant(needs, table))
            })
            .collect(),
        "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.keys())
            .map(|table| grant(operation, table))
            .collect(),
        _ => {
            let Some(table) = body["TableName"].as_str() else {
                return Vec::new();
            };
            match body["IndexName"].as_str() {
                Some(index) => vec![grant(operation, &format!("{table}/index/{index}"))],
                None => vec![grant(operation, table)],
            }
        }
    }
}

#[derive(Debug)]
struct RecordingClient {
    inner: SharedHttpClient,
    log: Arc<CallLog>,
}

impl HttpClient for RecordingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(RecordingConnector {
            inner: self.inner.http_connector(settings, components),
            log: self.log.clone(),
        })
    }
}

#[derive(Debug)]
struct RecordingConnector {
    inner: SharedHttpConnector,
    log: Arc<CallLog>,
}

impl HttpConnector for RecordingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        // Calls outside an invocation (creating tables, seeding, the local routes) are the
        // emulator's own, made with no function's role.
        if let Ok(function) = FUNCTION.try_with(|f| *f) {
            let target = request.headers().get("x-amz-target").unwrap_or_default();
            let grants = request
                .body()
                .bytes()
                .map(|body| grants_of(target, body))
                .unwrap_or_default();
            self.log.record(function, grants);
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(target: &str, body: Value) -> Vec<Grant> {
        grants_of(
            &format!("DynamoDB_20120810.{target}"),
            body.to_string().as_bytes(),
        )
    }

    fn grant(action: &str, table: &str) -> Grant {
        (action.to_owned(), table.to_owned())
    }

    #[test]
    fn a_transaction_needs_each_item_s_own_action() {
        let body = serde_json::json!({"TransactItems": [
            {"Put": {"TableName": "products", "Item": {}}},
            {"Update": {"TableName": "imports", "Key": {}}},
            {"Delete": {"TableName": "products", "Key": {}}},
            {"ConditionCheck": {"TableName": "orders", "Key": {}}},
        ]});
        assert_eq!(
            grants("TransactWriteItems", body),
            vec![
                grant("dynamodb:PutItem", "products"),
                grant("dynamodb:UpdateItem", "imports"),
                grant("dynamodb:DeleteItem", "products"),
                grant("dynamodb:ConditionCheckItem", "orders"),
            ]
        );
    }

    #[test]
    fn a_batch_needs_its_action_on_every_table_and_a_query_on_its_index() {
        let body = serde_json::json!({"RequestItems": {"products": {}, "orders": {}}});
        assert_eq!(
            grants("BatchGetItem", body),
            vec![
                grant("dynamodb:BatchGetItem", "orders"),
                grant("dynamodb:BatchGetItem", "products"),
            ]
        );
        let query = serde_json::json!({"TableName": "orders", "IndexName": "by_customer"});
        assert_eq!(
            grants("Query", query),
            vec![grant("dynamodb:Query", "orders/index/by_customer")]
        );
        let get = serde_json::json!({"TableName": "orders", "Key": {}});
        assert_eq!(
            grants("GetItem", get),
            vec![grant("dynamodb:GetItem", "orders")]
        );
        assert!(grants_of("AmazonSQS.SendMessage", b"{}").is_empty());
    }

    #[derive(Debug)]
    struct Service;

    impl HttpConnector for Service {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            HttpConnectorFuture::ready(Ok(
                aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(200).unwrap(),
                    aws_smithy_types::body::SdkBody::from("{}"),
                ),
            ))
        }
    }

    #[tokio::test]
    async fn only_calls_inside_an_invocation_are_recorded() {
        let log = CallLog::new();
        let connector = RecordingConnector {
            inner: SharedHttpConnector::new(Service),
            log: log.clone(),
        };
        let send = |table: &str| {
            let body = serde_json::json!({"TableName": table}).to_string();
            let mut request = HttpRequest::new(aws_smithy_types::body::SdkBody::from(body));
            request
                .headers_mut()
                .insert("x-amz-target", "DynamoDB_20120810.GetItem");
            connector.call(request)
        };
        send("seeded").await.unwrap();
        // The SDK calls its connector while its future is polled: inside the invocation.
        as_function("list-products", async { send("products").await })
            .await
            .unwrap();
        let needed = log.needed();
        assert_eq!(needed.len(), 1, "{needed:?}");
        assert_eq!(
            needed["list-products"],
            BTreeSet::from([grant("dynamodb:GetItem", "products")])
        );
    }
}
