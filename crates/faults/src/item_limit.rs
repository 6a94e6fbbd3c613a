//! DynamoDB's per-item write limit, on the wire: the one fault the embedded store cannot have.
//!
//! One item lives in one partition, and a partition serves at most 1,000 write units a second;
//! a transactional write costs 2 units per item (up to 1 KB), a standard one 1. So however much
//! capacity a table has, one hot item (a product's stock in a sale) takes about 500 orders a
//! second and throttles past it. dynoxide never throttles, so this layer does: it sits where
//! the SDK's HTTP client would, counts each item's write units in a token bucket (`per_second`
//! units a second, one second of burst) and, past it, answers as DynamoDB documents:
//!
//! - a standard write (`PutItem`, `UpdateItem`, `DeleteItem`): `ThrottlingException` (HTTP 400),
//!   whose `throttlingReasons` name `TableWriteKeyRangeThroughputExceeded` and the table's ARN
//!   (API reference, `ThrottlingReason`: ResourceType + OperationType + LimitType, the limit
//!   type `KeyRangeThroughputExceeded` for a hot partition key, in both capacity modes);
//! - `TransactWriteItems`: `TransactionCanceledException`, its `CancellationReasons` in the
//!   order of the request's items, `ThrottlingError` for each item over its limit and `None`
//!   for the others (the code an on-demand table gives, per the API reference of
//!   `TransactWriteItems`).
//!
//! A refused request writes nothing and takes no unit. Batch writes and reads pass unlimited
//! (the system's hot path writes through transactions and single writes only).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};

/// The write units DynamoDB charges per item: a transactional write twice a standard one.
const STANDARD_UNITS: u32 = 1;
const TRANSACTIONAL_UNITS: u32 = 2;
/// Every table here has the string hash key `id` (`store_dynamodb::schema`).
const KEY_ATTRIBUTE: &str = "id";
/// The throttling reason of a hot item's partition.
const HOT_KEY: &str = "TableWriteKeyRangeThroughputExceeded";
/// The message DynamoDB gives with `ThrottlingError` on an on-demand table.
const THROTTLED: &str = "Throughput exceeds the current capacity of your table or index. \
DynamoDB is automatically scaling your table or index so please try again shortly. If \
exceptions persist, check if you have a hot key: \
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html";
const ERROR_PREFIX: &str = "com.amazonaws.dynamodb.v20120810#";

/// One item a write touches: its table and the value of its key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ItemKey {
    pub table: String,
    pub id: String,
}

impl ItemKey {
    /// `table/id`, as the refusals are counted.
    pub fn label(&self) -> String {
        format!("{}/{}", self.table, self.id)
    }
}

/// A write request as the limit sees it: its items, and whether it is a transaction.
#[derive(Debug, PartialEq, Eq)]
pub struct Write {
    pub items: Vec<ItemKey>,
    pub transactional: bool,
}

impl Write {
    /// The write a DynamoDB JSON request makes (`X-Amz-Target` and body); `None` for anything
    /// the limit lets through (reads, batch writes, control calls, a body it cannot read).
    pub fn of(target: &str, body: &[u8]) -> Option<Write> {
        let operation = target.strip_prefix("DynamoDB_20120810.")?;
        if !matches!(
            operation,
            "PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems"
        ) {
            // Reads and batches pass unread: only a write's body is parsed.
            return None;
        }
        let body: Value = serde_json::from_slice(body).ok()?;
        let items = match operation {
            "PutItem" => vec![item_key(&body, "Item")?],
            "UpdateItem" | "DeleteItem" => vec![item_key(&body, "Key")?],
            "TransactWriteItems" => body["TransactItems"]
                .as_array()?
                .iter()
                .map(transact_item)
                .collect::<Option<Vec<_>>>()?,
            _ => return None,
        };
        Some(Write {
            items,
            transactional: operation == "TransactWriteItems",
        })
    }

    fn units(&self) -> u32 {
        if self.transactional {
            TRANSACTIONAL_UNITS
        } else {
            STANDARD_UNITS
        }
    }
}

fn item_key(request: &Value, attributes: &str) -> Option<ItemKey> {
    Some(ItemKey {
        table: request["TableName"].as_str()?.to_owned(),
        id: request[attributes][KEY_ATTRIBUTE]["S"].as_str()?.to_owned(),
    })
}

/// One action of a transaction: `Put` names its item, the others its key.
fn transact_item(action: &Value) -> Option<ItemKey> {
    if let Some(put) = action.get("Put") {
        return item_key(put, "Item");
    }
    ["Update", "Delete", "ConditionCheck"]
        .iter()
        .find_map(|kind| action.get(*kind))
        .and_then(|request| item_key(request, "Key"))
}

/// One item's units: refilled at the limit's rate, holding at most one second of them.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    units: f64,
    at: Instant,
}

/// The per-item write limit and what it refused.
#[derive(Debug)]
pub struct ItemWriteLimit {
    per_second: u32,
    buckets: Mutex<HashMap<ItemKey, Bucket>>,
    refused: Mutex<BTreeMap<String, u64>>,
}

impl ItemWriteLimit {
    /// A limit of `per_second` write units a second for every item (at least 2, so that one
    /// transactional write can pass).
    pub fn new(per_second: u32) -> ItemWriteLimit {
        ItemWriteLimit {
            per_second: per_second.max(TRANSACTIONAL_UNITS),
            buckets: Mutex::new(HashMap::new()),
            refused: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    /// The writes refused so far, per item (`table/id`).
    pub fn refused(&self) -> BTreeMap<String, u64> {
        self.refused.lock().expect("refusals").clone()
    }

    /// Takes the write's units from each of its items at `now`, all or none: the items whose
    /// bucket holds too few (empty when the write may go).
    pub fn take(&self, write: &Write, now: Instant) -> Vec<usize> {
        let units = f64::from(write.units());
        let rate = f64::from(self.per_second);
        let mut buckets = self.buckets.lock().expect("buckets");
        let mut short = Vec::new();
        for (index, item) in write.items.iter().enumerate() {
            let bucket = buckets.entry(item.clone()).or_insert(Bucket {
                units: rate,
                at: now,
            });
            let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
            bucket.units = (bucket.units + elapsed * rate).min(rate);
            bucket.at = now;
            if bucket.units < units {
                short.push(index);
            }
        }
        if short.is_empty() {
            for item in &write.items {
                if let Some(bucket) = buckets.get_mut(item) {
                    bucket.units -= units;
                }
            }
        } else {
            let mut refused = self.refused.lock().expect("refusals");
            for &index in &short {
                *refused.entry(write.items[index].label()).or_default() += 1;
            }
        }
        short
    }

    /// `inner`, with this limit in front of every DynamoDB write it carries.
    pub fn client(self: &Arc<Self>, inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(LimitedClient {
            inner,
            limit: self.clone(),
        })
    }

    /// The SDK's own default HTTP client (rustls over aws-lc) with this limit in front.
    pub fn default_client(self: &Arc<Self>) -> SharedHttpClient {
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        let inner = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build_https();
        self.client(inner)
    }
}

/// DynamoDB's answer (HTTP 400) to a write refused for its items at `short`.
fn refusal(write: &Write, short: &[usize]) -> Value {
    if write.transactional {
        let reasons: Vec<Value> = (0..write.items.len())
            .map(|i| match short.contains(&i) {
                true => json!({"Code": "ThrottlingError", "Message": THROTTLED}),
                false => json!({"Code": "None"}),
            })
            .collect();
        let codes: Vec<&str> = reasons.iter().filter_map(|r| r["Code"].as_str()).collect();
        return json!({
            "__type": format!("{ERROR_PREFIX}TransactionCanceledException"),
            "Message": format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                codes.join(", ")
            ),
            "CancellationReasons": reasons,
        });
    }
    let table = &write.items[short[0]].table;
    json!({
        "__type": format!("{ERROR_PREFIX}ThrottlingException"),
        "message": THROTTLED,
        "throttlingReasons": [{
            "reason": HOT_KEY,
            "resource": format!("arn:aws:dynamodb:us-east-1:000000000000:table/{table}"),
        }],
    })
}

#[derive(Debug)]
struct LimitedClient {
    inner: SharedHttpClient,
    limit: Arc<ItemWriteLimit>,
}

impl HttpClient for LimitedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LimitedConnector {
            inner: self.inner.http_connector(settings, components),
            limit: self.limit.clone(),
        })
    }
}

#[derive(Debug)]
struct LimitedConnector {
    inner: SharedHttpConnector,
    limit: Arc<ItemWriteLimit>,
}

impl HttpConnector for LimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let write = request
            .body()
            .bytes()
            .and_then(|body| Write::of(target, body));
        if let Some(write) = write {
            let short = self.limit.take(&write, Instant::now());
            if !short.is_empty() {
                let body = refusal(&write, &short);
                return HttpConnectorFuture::ready(Ok(refused(&body)));
            }
        }
        self.inner.call(request)
    }
}

/// A refusal as DynamoDB sends it: HTTP 400, its type also in `x-amzn-errortype`.
fn refused(body: &Value) -> HttpResponse {
    let status = StatusCode::try_from(400).expect("a valid status");
    let error_type = body["__type"].as_str().unwrap_or_default().to_owned();
    let mut response = HttpResponse::new(status, SdkBody::from(body.to_string()));
    let headers = response.headers_mut();
    headers.insert("content-type", "application/x-amz-json-1.0");
    headers.insert("x-amzn-errortype", error_type);
    headers.insert("x-amzn-requestid", "delivery-local-item-write-limit");
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn put(table: &str, id: &str) -> Value {
        json!({"TableName": table, "Item": {"id": {"S": id}, "stock": {"N": "1"}}})
    }

    #[test]
    fn the_items_of_each_write_are_read_from_the_request() {
        let single = |op: &str, body: Value| Write::of(op, body.to_string().as_bytes());
        let key = |table: &str, id: &str| ItemKey {
            table: table.into(),
            id: id.into(),
        };
        assert_eq!(
            single("DynamoDB_20120810.PutItem", put("t", "p1")),
            Some(Write {
                items: vec![key("t", "p1")],
                transactional: false
            })
        );
        let keyed = json!({"TableName": "t", "Key": {"id": {"S": "p2"}}});
        for op in ["UpdateItem", "DeleteItem"] {
            let write = single(&format!("DynamoDB_20120810.{op}"), keyed.clone()).unwrap();
            assert_eq!(write.items, vec![key("t", "p2")]);
            assert_eq!(write.units(), 1);
        }
        let transaction = json!({"TransactItems": [
            {"Update": {"TableName": "products", "Key": {"id": {"S": "p1"}}}},
            {"ConditionCheck": {"TableName": "products", "Key": {"id": {"S": "p3"}}}},
            {"Delete": {"TableName": "products", "Key": {"id": {"S": "p4"}}}},
            {"Put": put("orders", "o1")},
        ]});
        let write = single("DynamoDB_20120810.TransactWriteItems", transaction).unwrap();
        assert!(write.transactional);
        assert_eq!(write.units(), 2);
        assert_eq!(
            write.items,
            vec![
                key("products", "p1"),
                key("products", "p3"),
                key("products", "p4"),
                key("orders", "o1")
            ]
        );
        // Reads, batches, other services and unreadable bodies pass.
        assert_eq!(single("DynamoDB_20120810.GetItem", keyed.clone()), None);
        assert_eq!(
            single("DynamoDB_20120810.BatchWriteItem", keyed.clone()),
            None
        );
        assert_eq!(single("AmazonSQS.SendMessage", put("t", "p1")), None);
        assert_eq!(Write::of("DynamoDB_20120810.PutItem", b"{not json"), None);
        assert_eq!(
            single("DynamoDB_20120810.PutItem", json!({"Item": {}})),
            None
        );
    }

    #[test]
    fn each_item_has_a_second_of_units_refilled_at_the_limit() {
        let limit = ItemWriteLimit::new(4);
        let write = |ids: &[&str], transactional| Write {
            items: ids
                .iter()
                .map(|id| ItemKey {
                    table: "products".into(),
                    id: (*id).into(),
                })
                .collect(),
            transactional,
        };
        let start = Instant::now();
        // Four units: two transactional writes of p1, and a third is refused.
        assert!(limit.take(&write(&["p1", "o1"], true), start).is_empty());
        assert!(limit.take(&write(&["p1", "o2"], true), start).is_empty());
        assert_eq!(limit.take(&write(&["o3", "p1"], true), start), vec![1]);
        // A refused write takes nothing from its other items: o3 still has its four.
        assert!(limit.take(&write(&["o3"], true), start).is_empty());
        assert!(limit.take(&write(&["o3"], true), start).is_empty());
        assert_eq!(limit.take(&write(&["o3"], false), start), vec![0]);
        // Half a second refills two units, enough for one transactional write.
        let later = start + Duration::from_millis(500);
        assert!(limit.take(&write(&["p1"], true), later).is_empty());
        assert_eq!(limit.take(&write(&["p1"], false), later), vec![0]);
        // However long it waits, a bucket holds one second's units.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..4 {
            assert!(limit.take(&write(&["p1"], false), much_later).is_empty());
        }
        assert_eq!(limit.take(&write(&["p1"], false), much_later), vec![0]);
        assert_eq!(
            limit.refused(),
            BTreeMap::from([("products/o3".into(), 1), ("products/p1".into(), 3)])
        );
        assert_eq!(ItemWriteLimit::new(0).per_second(), 2);
    }

    /// The service behind the limit: every request it gets is answered 200.
    #[derive(Debug)]
    struct Service;

    impl HttpConnector for Service {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            HttpConnectorFuture::ready(Ok(HttpResponse::new(
                StatusCode::try_from(200).unwrap(),
                SdkBody::from("{}"),
            )))
        }
    }

    #[tokio::test]
    async fn a_write_past_its_item_s_units_never_reaches_the_service() {
        let connector = LimitedConnector {
            inner: SharedHttpConnector::new(Service),
            limit: Arc::new(ItemWriteLimit::new(2)),
        };
        let send = |target: &str| {
            let mut request = HttpRequest::new(SdkBody::from(put("products", "p1").to_string()));
            request
                .headers_mut()
                .insert("x-amz-target", target.to_owned());
            connector.call(request)
        };
        let status = |response: HttpResponse| response.status().as_u16();
        // Two units a second: two writes of p1 pass, the third is answered by the limit.
        for _ in 0..2 {
            assert_eq!(
                status(send("DynamoDB_20120810.PutItem").await.unwrap()),
                200
            );
        }
        let refused = send("DynamoDB_20120810.PutItem").await.unwrap();
        assert_eq!(status(refused), 400);
        // Reads are never limited.
        assert_eq!(
            status(send("DynamoDB_20120810.GetItem").await.unwrap()),
            200
        );
    }

    #[test]
    fn refusals_are_shaped_as_dynamodb_answers_them() {
        let key = |id: &str| ItemKey {
            table: "delivery-products".into(),
            id: id.into(),
        };
        let single = Write {
            items: vec![key("p1")],
            transactional: false,
        };
        let body = refusal(&single, &[0]);
        assert_eq!(
            body["__type"],
            "com.amazonaws.dynamodb.v20120810#ThrottlingException"
        );
        assert_eq!(
            body["throttlingReasons"],
            json!([{"reason": "TableWriteKeyRangeThroughputExceeded",
                    "resource": "arn:aws:dynamodb:us-east-1:000000000000:table/delivery-products"}])
        );
        let transaction = Write {
            items: vec![key("p1"), key("p2"), key("o1")],
            transactional: true,
        };
        let body = refusal(&transaction, &[1]);
        let codes: Vec<&str> = body["CancellationReasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["None", "ThrottlingError", "None"]);
        assert!(
            body["Message"]
                .as_str()
                .unwrap()
                .ends_with("[None, ThrottlingError, None]")
        );
        let response = refused(&body);
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(
            response.headers().get("x-amzn-errortype"),
            Some("com.amazonaws.dynamodb.v20120810#TransactionCanceledException")
        );
    }
}
