//! Orders: the `POST /orders` request, the `order.placed` queue message, the recorded order and
//! the `order.accepted` / `order.rejected` events.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bill::{self, Basket, BasketLine, MAX_ORDER_PRODUCTS};
use crate::ids::{CarrierId, CustomerId, OrderId, Phone, ProductId};
use crate::money::Money;
use crate::product::Product;
use crate::validation::{FieldError, FieldErrors, JsonObject, Presence};

pub const ADDRESS_LEN: (usize, usize) = (1, 500);

/// Where an order goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub address: String,
    pub phone: Phone,
}

impl Delivery {
    fn from_obj(obj: &JsonObject<'_>, errors: &mut FieldErrors) -> Option<Delivery> {
        let delivery = obj.object("delivery", Presence::Required, errors)?;
        delivery.deny_unknown(&["address", "phone"], errors);
        let address = delivery.text("address", Presence::Required, ADDRESS_LEN, false, errors);
        let phone = match delivery
            .string("phone", Presence::Required, errors)
            .map(Phone::parse)
        {
            Some(Ok(p)) => Some(p),
            Some(Err(e)) => {
                errors.add(delivery.path_of("phone"), e.0);
                None
            }
            None => None,
        };
        Some(Delivery {
            address: address?,
            phone: phone?,
        })
    }
}

/// The validated body of `POST /orders`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRequest {
    pub basket: Basket,
    pub delivery: Delivery,
}

impl OrderRequest {
    pub fn from_json(body: &Value) -> Result<OrderRequest, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let Some(obj) = JsonObject::root(body, &mut errors) else {
            return Err(errors.into_vec());
        };
        obj.deny_unknown(&["items", "delivery"], &mut errors);
        let basket = Basket::from_items(&obj, MAX_ORDER_PRODUCTS, &mut errors);
        let delivery = Delivery::from_obj(&obj, &mut errors);
        errors.finish(|| {
            Some(OrderRequest {
                basket: basket?,
                delivery: delivery?,
            })
        })
    }
}

/// The `order.placed` message on the orders queue. Version 2 carries the prices the customer
/// was quoted (the 202's total), which the processor honours whatever the catalog says by
/// then; version 1 (no quote) is priced when it is processed, as a message still queued across
/// a deploy may be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderPlaced {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub version: u32,
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub items: Vec<BasketLine>,
    pub delivery: Delivery,
    /// Fixed-width RFC 3339 (microseconds, `Z`) so that it also sorts as text.
    pub placed_at: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub quote: Option<Quote>,
}

/// The prices an order was quoted at: each line's unit price (in the order of `items`), and
/// the total, which is exactly the sum of the lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub unit_prices: Vec<Money>,
    pub total: Money,
}

impl Quote {
    /// The quote of a bill (`place-order`'s, the 202's total).
    pub fn of(bill: &bill::Bill) -> Quote {
        Quote {
            unit_prices: bill.lines.iter().map(|l| l.unit_price).collect(),
            total: bill.total,
        }
    }

    /// The quote of `basket` at the catalog's prices, stock and availability aside (the
    /// simulator's): none when a product is unknown, currencies differ, or the sum overflows.
    pub fn at_prices(basket: &Basket, catalog: &HashMap<ProductId, Product>) -> Option<Quote> {
        let unit_prices: Vec<Money> = basket
            .lines()
            .iter()
            .map(|l| catalog.get(&l.product_id).map(|p| p.price))
            .collect::<Option<_>>()?;
        let total = Quote::total_of(basket.lines(), &unit_prices)?;
        Some(Quote { unit_prices, total })
    }

    /// Σ unit price × quantity, in one currency, without overflow.
    fn total_of(lines: &[BasketLine], unit_prices: &[Money]) -> Option<Money> {
        let currency = unit_prices.first()?.currency();
        lines
            .iter()
            .zip(unit_prices)
            .try_fold(Money::zero(currency), |total, (line, price)| {
                if price.currency() != currency {
                    return None;
                }
                total
                    .checked_add(price.checked_mul(line.quantity).ok()?)
                    .ok()
            })
    }

    /// The order's lines at these prices, named as the catalog names them now.
    fn lines(&self, basket: &Basket, catalog: &HashMap<ProductId, Product>) -> Vec<OrderLine> {
        basket
            .lines()
            .iter()
            .zip(&self.unit_prices)
            .map(|(line, price)| OrderLine {
                product_id: line.product_id.clone(),
                name: catalog.get(&line.product_id).map(|p| p.name.clone()),
                quantity: line.quantity,
                unit_price: Some(*price),
                line_total: price.checked_mul(line.quantity).ok(),
            })
            .collect()
    }
}

pub const ORDER_PLACED: &str = "order.placed";

/// Formats a time the way orders store it: RFC 3339, microseconds, `Z`; sortable as text.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl OrderPlaced {
    /// The message of an order quoted at `quote` (version 2), or to be priced when processed
    /// (version 1, without one).
    pub fn new(
        order_id: OrderId,
        customer_id: CustomerId,
        request: &OrderRequest,
        quote: Option<Quote>,
        at: DateTime<Utc>,
    ) -> OrderPlaced {
        OrderPlaced {
            kind: ORDER_PLACED,
            version: if quote.is_some() { 2 } else { 1 },
            order_id,
            customer_id,
            items: request.basket.lines().to_vec(),
            delivery: request.delivery.clone(),
            placed_at: timestamp(at),
            quote,
        }
    }

    /// Parses and validates a queue message body. The error is the reason the message is
    /// dead-lettered: a malformed message never gets better by being retried.
    pub fn parse(body: &str) -> Result<(OrderPlaced, Basket), String> {
        let value: Value =
            serde_json::from_str(body).map_err(|e| format!("body is not JSON: {e}"))?;
        let mut errors = FieldErrors::default();
        let parsed =
            JsonObject::root(&value, &mut errors).and_then(|obj| parse_placed(&obj, &mut errors));
        errors.finish(|| parsed).map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    pub fn placed_at(&self) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&self.placed_at)
            .map(|t| t.to_utc())
            .unwrap_or_default()
    }
}

fn parse_placed(obj: &JsonObject<'_>, errors: &mut FieldErrors) -> Option<(OrderPlaced, Basket)> {
    obj.deny_unknown(MESSAGE_FIELDS, errors);
    if obj
        .string("type", Presence::Required, errors)
        .is_some_and(|t| t != ORDER_PLACED)
    {
        errors.add("type", "must be \"order.placed\"");
    }
    let version = obj.integer("version", Presence::Required, (1, 2), errors);
    let order_id = parse_with(obj, "order_id", OrderId::parse, errors);
    let customer_id = parse_with(obj, "customer_id", CustomerId::parse, errors);
    let basket = Basket::from_items(obj, MAX_ORDER_PRODUCTS, errors);
    // A message over the limits never becomes servable: it is dead-lettered like a malformed one.
    for e in basket.iter().flat_map(Basket::over_limits) {
        errors.add(e.field.clone(), e.message.clone());
    }
    let delivery = Delivery::from_obj(obj, errors);
    let placed_at = parse_with(
        obj,
        "placed_at",
        |s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| timestamp(t.to_utc()))
                .map_err(|_| crate::ids::InvalidId("must be an RFC 3339 time"))
        },
        errors,
    );
    let quote = parse_quote(obj, version, basket.as_ref(), errors);
    let basket = basket?;
    let placed = OrderPlaced {
        kind: ORDER_PLACED,
        version: version? as u32,
        order_id: order_id?,
        customer_id: customer_id?,
        items: basket.lines().to_vec(),
        delivery: delivery?,
        placed_at: placed_at?,
        quote,
    };
    Some((placed, basket))
}

/// The fields of an `order.placed` message (a quote's only in version 2).
const MESSAGE_FIELDS: &[&str] = &[
    "type",
    "version",
    "order_id",
    "customer_id",
    "items",
    "delivery",
    "placed_at",
    "unit_prices",
    "total",
];

/// A version 2 message's quote: a unit price per line of the basket, and their exact total. A
/// quote that does not add up is refused like any malformed message: it never gets better.
/// Version 1 carries none.
fn parse_quote(
    obj: &JsonObject<'_>,
    version: Option<i64>,
    basket: Option<&Basket>,
    errors: &mut FieldErrors,
) -> Option<Quote> {
    if version != Some(2) {
        for key in ["unit_prices", "total"] {
            if obj.has(key) {
                errors.add(obj.path_of(key), "only a version 2 message carries a quote");
            }
        }
        return None;
    }
    let prices = obj.array("unit_prices", Presence::Required, errors);
    let total = obj.price("total", Presence::Required, errors);
    let mut unit_prices = Vec::new();
    for (i, value) in prices?.iter().enumerate() {
        let path = format!("{}[{i}]", obj.path_of("unit_prices"));
        let money = JsonObject::at(value, &path, errors)?;
        money.deny_unknown(&["amount", "currency"], errors);
        let amount = money.string("amount", Presence::Required, errors);
        let currency = money.string("currency", Presence::Required, errors);
        match Money::parse_price(amount?, currency?) {
            Ok(price) => unit_prices.push(price),
            Err(e) => {
                errors.add(path, e.to_string());
                return None;
            }
        }
    }
    let (basket, total) = (basket?, total?);
    if unit_prices.len() != basket.lines().len() {
        errors.add(
            obj.path_of("unit_prices"),
            "must have one price per line of items",
        );
        return None;
    }
    if Quote::total_of(basket.lines(), &unit_prices) != Some(total) {
        errors.add(
            obj.path_of("total"),
            "must be the exact sum of the lines, in one currency",
        );
        return None;
    }
    Some(Quote { unit_prices, total })
}

fn parse_with<T>(
    obj: &JsonObject<'_>,
    key: &str,
    parse: impl FnOnce(&str) -> Result<T, crate::ids::InvalidId>,
    errors: &mut FieldErrors,
) -> Option<T> {
    match parse(obj.string(key, Presence::Required, errors)?) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.add(obj.path_of(key), e.0);
            None
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Accepted,
    Rejected,
    Dispatched,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Accepted => "accepted",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Dispatched => "dispatched",
        }
    }
}

/// Why an order was rejected. Ordered from gravest: an order with several problems carries the
/// gravest one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    UnknownProduct,
    Unavailable,
    OutOfStock,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::UnknownProduct => "unknown_product",
            RejectReason::Unavailable => "unavailable",
            RejectReason::OutOfStock => "out_of_stock",
        }
    }
}

/// The carrier an order was handed to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierRef {
    pub id: CarrierId,
    pub name: String,
}

/// One line of a recorded order. Accepted orders have every field; a rejected order's line
/// for a product that does not exist has no name or price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub product_id: ProductId,
    pub name: Option<String>,
    pub quantity: u32,
    pub unit_price: Option<Money>,
    pub line_total: Option<Money>,
}

/// An order as recorded by the processor and served by `GET /orders/{id}`. Its JSON adds the
/// `timeline`: when it was placed, recorded, announced, texted and dispatched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "OrderJson", from = "OrderJson")]
pub struct Order {
    pub id: OrderId,
    pub customer_id: CustomerId,
    pub lines: Vec<OrderLine>,
    pub total: Option<Money>,
    pub delivery: Delivery,
    pub status: OrderStatus,
    pub reason: Option<RejectReason>,
    pub carrier: Option<CarrierRef>,
    /// When it was placed (`POST /orders` answered 202).
    pub created_at: DateTime<Utc>,
    /// When the processor recorded it, accepted or rejected.
    pub recorded_at: Option<DateTime<Utc>>,
    /// When its `order.accepted` event was published (SNS's timestamp, as `notify-carrier`
    /// received it).
    pub announced_at: Option<DateTime<Utc>>,
    /// When the carrier's SMS went out.
    pub texted_at: Option<DateTime<Utc>>,
    pub dispatched_at: Option<DateTime<Utc>>,
}

/// Where an order spent its time: each step's moment, `null` until reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    pub placed_at: DateTime<Utc>,
    pub recorded_at: Option<DateTime<Utc>>,
    pub announced_at: Option<DateTime<Utc>>,
    pub texted_at: Option<DateTime<Utc>>,
    pub dispatched_at: Option<DateTime<Utc>>,
}

/// An order's JSON: its fields as they have always been, and the timeline (absent from events
/// published before it was kept).
#[derive(Serialize, Deserialize)]
struct OrderJson {
    id: OrderId,
    customer_id: CustomerId,
    lines: Vec<OrderLine>,
    total: Option<Money>,
    delivery: Delivery,
    status: OrderStatus,
    reason: Option<RejectReason>,
    carrier: Option<CarrierRef>,
    created_at: DateTime<Utc>,
    dispatched_at: Option<DateTime<Utc>>,
    #[serde(default)]
    timeline: Option<Timeline>,
}

impl From<Order> for OrderJson {
    fn from(o: Order) -> OrderJson {
        let timeline = o.timeline();
        OrderJson {
            id: o.id,
            customer_id: o.customer_id,
            lines: o.lines,
            total: o.total,
            delivery: o.delivery,
            status: o.status,
            reason: o.reason,
            carrier: o.carrier,
            created_at: o.created_at,
            dispatched_at: o.dispatched_at,
            timeline: Some(timeline),
        }
    }
}

impl From<OrderJson> for Order {
    fn from(j: OrderJson) -> Order {
        let steps = j.timeline;
        Order {
            id: j.id,
            customer_id: j.customer_id,
            lines: j.lines,
            total: j.total,
            delivery: j.delivery,
            status: j.status,
            reason: j.reason,
            carrier: j.carrier,
            created_at: j.created_at,
            recorded_at: steps.and_then(|s| s.recorded_at),
            announced_at: steps.and_then(|s| s.announced_at),
            texted_at: steps.and_then(|s| s.texted_at),
            dispatched_at: j.dispatched_at,
        }
    }
}

impl Order {
    /// What the processor proposes to record for a placed order, given the catalog as read:
    /// `accepted` with the bill when every line can be served, else `rejected` with the reason.
    /// The store then reserves stock atomically, and may still reject (stock moved meanwhile).
    pub fn decide(
        placed: &OrderPlaced,
        basket: &Basket,
        catalog: &HashMap<ProductId, Product>,
    ) -> Order {
        // Availability and stock are the catalog's now; the prices are the quote's, if any.
        let (lines, total, status, reason) = match bill::price(basket, catalog) {
            Ok(bill) => match &placed.quote {
                Some(quote) => (
                    quote.lines(basket, catalog),
                    Some(quote.total),
                    OrderStatus::Accepted,
                    None,
                ),
                None => (
                    bill.lines.into_iter().map(OrderLine::from).collect(),
                    Some(bill.total),
                    OrderStatus::Accepted,
                    None,
                ),
            },
            Err(issues) => (
                describe(basket, catalog),
                None,
                OrderStatus::Rejected,
                bill::reject_reason(&issues),
            ),
        };
        Order {
            id: placed.order_id,
            customer_id: placed.customer_id.clone(),
            lines,
            total,
            delivery: placed.delivery.clone(),
            status,
            reason,
            carrier: None,
            created_at: placed.placed_at(),
            recorded_at: None,
            announced_at: None,
            texted_at: None,
            dispatched_at: None,
        }
    }

    /// Each step's moment.
    pub fn timeline(&self) -> Timeline {
        Timeline {
            placed_at: self.created_at,
            recorded_at: self.recorded_at,
            announced_at: self.announced_at,
            texted_at: self.texted_at,
            dispatched_at: self.dispatched_at,
        }
    }

    /// The time from the order's 202 to its carrier's SMS, once texted.
    pub fn order_to_sms(&self) -> Option<chrono::Duration> {
        self.texted_at.map(|texted| texted - self.created_at)
    }

    /// This order, rejected for `reason` (stock untouched).
    pub fn rejected(&self, reason: RejectReason) -> Order {
        // As when the bill itself refuses it: a rejected order is never billed, so it has no
        // total, whichever path rejected it.
        Order {
            status: OrderStatus::Rejected,
            reason: Some(reason),
            total: None,
            ..self.clone()
        }
    }

    pub fn item_count(&self) -> u32 {
        self.lines.iter().map(|l| l.quantity).sum()
    }
}

impl From<bill::BillLine> for OrderLine {
    fn from(l: bill::BillLine) -> OrderLine {
        OrderLine {
            product_id: l.product_id,
            name: Some(l.name),
            quantity: l.quantity,
            unit_price: Some(l.unit_price),
            line_total: Some(l.line_total),
        }
    }
}

/// Lines of a basket that could not be billed, priced where the product is known.
fn describe(basket: &Basket, catalog: &HashMap<ProductId, Product>) -> Vec<OrderLine> {
    basket
        .lines()
        .iter()
        .map(|l| {
            let product = catalog.get(&l.product_id);
            let unit_price = product.map(|p| p.price);
            OrderLine {
                product_id: l.product_id.clone(),
                name: product.map(|p| p.name.clone()),
                quantity: l.quantity,
                unit_price,
                line_total: unit_price.and_then(|p| p.checked_mul(l.quantity).ok()),
            }
        })
        .collect()
}

/// The `type` of an event on the `order-events` topic (also its SNS message attribute).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "order.accepted")]
    OrderAccepted,
    #[serde(rename = "order.rejected")]
    OrderRejected,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrderAccepted => "order.accepted",
            EventType::OrderRejected => "order.rejected",
        }
    }
}

/// An event on the `order-events` topic (version 1): the order as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub version: u32,
    pub order: Order,
}

impl OrderEvent {
    /// The event announcing a recorded order. A dispatched order was accepted first.
    pub fn for_order(order: &Order) -> OrderEvent {
        let kind = match order.status {
            OrderStatus::Rejected => EventType::OrderRejected,
            OrderStatus::Accepted | OrderStatus::Dispatched => EventType::OrderAccepted,
        };
        OrderEvent {
            kind,
            version: 1,
            order: order.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CompanyId;
    use crate::money::Currency;
    use serde_json::json;

    fn request() -> Value {
        json!({"items": [{"product_id": "p1", "quantity": 2}],
               "delivery": {"address": "1 Main St", "phone": "+15551234567"}})
    }

    fn placed() -> (OrderPlaced, Basket) {
        let req = OrderRequest::from_json(&request()).unwrap();
        let customer = CustomerId::parse("alice").unwrap();
        let id = OrderId::for_request(&customer, None);
        let at = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .to_utc();
        let msg = OrderPlaced::new(id, customer, &req, None, at);
        (msg, req.basket)
    }

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Usd)
    }

    /// The names used in keys, attributes and messages are the ones serde writes on the wire.
    #[test]
    fn wire_names_agree_with_serde() {
        let serde_name = |v: Value| v.as_str().unwrap().to_owned();
        for status in [
            OrderStatus::Accepted,
            OrderStatus::Rejected,
            OrderStatus::Dispatched,
        ] {
            assert_eq!(
                status.as_str(),
                serde_name(serde_json::to_value(status).unwrap())
            );
        }
        for reason in [
            RejectReason::UnknownProduct,
            RejectReason::Unavailable,
            RejectReason::OutOfStock,
        ] {
            assert_eq!(
                reason.as_str(),
                serde_name(serde_json::to_value(reason).unwrap())
            );
        }
        for event in [EventType::OrderAccepted, EventType::OrderRejected] {
            assert_eq!(
                event.as_str(),
                serde_name(serde_json::to_value(event).unwrap())
            );
        }
        assert_eq!(OrderStatus::Dispatched.as_str(), "dispatched");
        assert_eq!(RejectReason::OutOfStock.as_str(), "out_of_stock");
        assert_eq!(EventType::OrderAccepted.as_str(), "order.accepted");
    }

    fn pizza(price: i64, stock: u32) -> HashMap<ProductId, Product> {
        let product = Product {
            id: ProductId::parse("p1").unwrap(),
            company_id: CompanyId::parse("acme").unwrap(),
            name: "Margherita".into(),
            description: String::new(),
            price: usd(price),
            stock,
            available: true,
            stock_shards: 1,
            version: 1,
            updated_at: Utc::now(),
        };
        HashMap::from([(product.id.clone(), product)])
    }

    /// The message of `placed()` quoted at 10.00 a unit: 2 × 10.00 = 20.00.
    fn quoted() -> (OrderPlaced, Basket) {
        let (mut msg, basket) = placed();
        msg.quote = Quote::at_prices(&basket, &pizza(1000, 0));
        msg.version = 2;
        (msg, basket)
    }

    #[test]
    fn order_request_validates_delivery() {
        let errors = OrderRequest::from_json(&json!({
            "items": [{"product_id": "p1", "quantity": 1}],
            "delivery": {"address": "", "phone": "555"}
        }))
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["delivery.address", "delivery.phone"]);
        let errors = OrderRequest::from_json(&json!({"items": []})).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["items", "delivery"]);
    }

    #[test]
    fn message_round_trips_and_is_versioned() {
        let (msg, basket) = placed();
        let body = serde_json::to_string(&msg).unwrap();
        assert!(body.contains(r#""type":"order.placed","version":1"#));
        assert!(body.contains(r#""placed_at":"2026-11-22T10:00:00.000000Z""#));
        let (parsed, parsed_basket) = OrderPlaced::parse(&body).unwrap();
        assert_eq!(parsed, msg);
        assert_eq!(parsed_basket, basket);
    }

    #[test]
    fn malformed_messages_give_a_reason() {
        let (msg, _) = placed();
        let mut good = serde_json::to_value(&msg).unwrap();
        assert!(
            OrderPlaced::parse("{not json")
                .unwrap_err()
                .contains("not JSON")
        );
        good["items"][0]["quantity"] = json!(-3);
        assert!(
            OrderPlaced::parse(&good.to_string())
                .unwrap_err()
                .contains("items[0].quantity")
        );
        good["items"][0]["quantity"] = json!(1);
        good["version"] = json!(3);
        assert!(
            OrderPlaced::parse(&good.to_string())
                .unwrap_err()
                .contains("version")
        );
        let mut missing = serde_json::to_value(&msg).unwrap();
        missing.as_object_mut().unwrap().remove("customer_id");
        assert!(
            OrderPlaced::parse(&missing.to_string())
                .unwrap_err()
                .contains("customer_id: is required")
        );
        assert!(OrderPlaced::parse("[]").unwrap_err().contains("body"));
    }

    #[test]
    fn a_quoted_message_is_version_2_and_round_trips() {
        let (msg, basket) = quoted();
        let body = serde_json::to_string(&msg).unwrap();
        assert!(body.contains(r#""version":2"#), "{body}");
        assert!(
            body.contains(r#""unit_prices":[{"amount":"10.00","currency":"USD"}],"total":{"amount":"20.00","currency":"USD"}"#),
            "{body}"
        );
        let (parsed, parsed_basket) = OrderPlaced::parse(&body).unwrap();
        assert_eq!(parsed, msg);
        assert_eq!(parsed_basket, basket);
        let built = OrderPlaced::new(
            msg.order_id,
            msg.customer_id.clone(),
            &OrderRequest::from_json(&request()).unwrap(),
            msg.quote.clone(),
            msg.placed_at(),
        );
        assert_eq!(built, msg);
    }

    #[test]
    fn a_quote_that_does_not_add_up_is_refused() {
        let (msg, _) = quoted();
        let good = serde_json::to_value(&msg).unwrap();
        let refused = |edit: &dyn Fn(&mut Value), field: &str| {
            let mut v = good.clone();
            edit(&mut v);
            let reason = OrderPlaced::parse(&v.to_string()).unwrap_err();
            assert!(reason.contains(field), "{field}: {reason}");
        };
        refused(
            &|v| v["total"] = json!({"amount": "20.01", "currency": "USD"}),
            "total: must be the exact sum",
        );
        refused(
            &|v| v["total"] = json!({"amount": "20.00", "currency": "EUR"}),
            "total: must be the exact sum",
        );
        refused(
            &|v| v["unit_prices"] = json!([]),
            "unit_prices: must have one price per line",
        );
        refused(
            &|v| v["unit_prices"][0] = json!({"amount": "0.00", "currency": "USD"}),
            "unit_prices[0]",
        );
        refused(
            &|v| v["unit_prices"][0] = json!("10.00"),
            "unit_prices[0]: must be a JSON object",
        );
        refused(
            &|v| {
                v.as_object_mut().unwrap().remove("total");
            },
            "total: is required",
        );
        refused(
            &|v| v["version"] = json!(1),
            "unit_prices: only a version 2 message carries a quote",
        );
        refused(
            &|v| {
                v.as_object_mut().unwrap().remove("unit_prices");
            },
            "unit_prices: is required",
        );
    }

    #[test]
    fn a_quoted_order_is_recorded_at_its_quote_whatever_the_price_now() {
        let (msg, basket) = quoted();
        // The company raised the price to 99.00 while the order waited in the queue.
        let order = Order::decide(&msg, &basket, &pizza(9900, 5));
        assert_eq!(order.status, OrderStatus::Accepted);
        assert_eq!(order.total, Some(usd(2000)));
        assert_eq!(order.lines[0].unit_price, Some(usd(1000)));
        assert_eq!(order.lines[0].line_total, Some(usd(2000)));
        assert_eq!(order.lines[0].name.as_deref(), Some("Margherita"));
        // Stock and availability are still the catalog's.
        let order = Order::decide(&msg, &basket, &pizza(9900, 1));
        assert_eq!(order.reason, Some(RejectReason::OutOfStock));
        // A message without a quote (version 1) is priced now.
        let (unquoted, _) = placed();
        let order = Order::decide(&unquoted, &basket, &pizza(9900, 5));
        assert_eq!(order.total, Some(usd(19800)));
    }

    #[test]
    fn a_quote_at_catalog_prices_needs_one_currency_and_known_products() {
        let (_, basket) = placed();
        let quote = Quote::at_prices(&basket, &pizza(1250, 0)).unwrap();
        assert_eq!(
            (quote.unit_prices.clone(), quote.total),
            (vec![usd(1250)], usd(2500))
        );
        assert_eq!(Quote::at_prices(&basket, &HashMap::new()), None);
        assert_eq!(
            Quote::at_prices(&basket, &pizza(i64::MAX, 0)),
            None,
            "overflow"
        );
    }

    #[test]
    fn decide_accepts_or_rejects_with_reason() {
        let (msg, basket) = placed();
        let product = Product {
            id: ProductId::parse("p1").unwrap(),
            company_id: CompanyId::parse("acme").unwrap(),
            name: "Margherita".into(),
            description: String::new(),
            price: Money::from_minor(1250, Currency::Usd),
            stock: 1,
            available: true,
            stock_shards: 1,
            version: 1,
            updated_at: Utc::now(),
        };
        let mut catalog = HashMap::from([(product.id.clone(), product)]);
        let order = Order::decide(&msg, &basket, &catalog);
        assert_eq!(
            (order.status, order.reason, order.total),
            (OrderStatus::Rejected, Some(RejectReason::OutOfStock), None)
        );
        assert_eq!(order.lines[0].unit_price.unwrap().amount_string(), "12.50");
        catalog.values_mut().for_each(|p| p.stock = 2);
        let order = Order::decide(&msg, &basket, &catalog);
        assert_eq!(order.status, OrderStatus::Accepted);
        assert_eq!(order.total.unwrap().amount_string(), "25.00");
        assert_eq!(order.item_count(), 2);
        // Refused at the store (stock taken meanwhile): rejected like the bill does, no total.
        let refused = order.rejected(RejectReason::OutOfStock);
        assert_eq!(
            (
                refused.status,
                refused.reason,
                refused.total,
                refused.lines.len()
            ),
            (
                OrderStatus::Rejected,
                Some(RejectReason::OutOfStock),
                None,
                1
            )
        );
        let event = serde_json::to_value(OrderEvent::for_order(&order)).unwrap();
        assert_eq!(event["type"], "order.accepted");
        assert_eq!(event["order"]["status"], "accepted");
        assert_eq!(event["order"]["reason"], Value::Null);
        let unknown = Order::decide(&msg, &basket, &HashMap::new());
        assert_eq!(unknown.reason, Some(RejectReason::UnknownProduct));
        assert_eq!(unknown.lines[0].name, None);
    }

    /// The JSON shows the timeline beside the fields it always had, reads it back, and reads an
    /// order written before the timeline was kept (an event still in a queue).
    #[test]
    fn an_order_s_json_carries_its_timeline_and_reads_one_without_it() {
        let (msg, basket) = placed();
        let placed_at = msg.placed_at();
        let order = Order {
            recorded_at: Some(placed_at + chrono::Duration::milliseconds(5)),
            texted_at: Some(placed_at + chrono::Duration::milliseconds(40)),
            ..Order::decide(&msg, &basket, &HashMap::new())
        };
        let json = serde_json::to_value(&order).unwrap();
        assert_eq!(
            json["timeline"],
            json!({"placed_at": "2026-11-22T10:00:00Z", "recorded_at": "2026-11-22T10:00:00.005Z",
                   "announced_at": null, "texted_at": "2026-11-22T10:00:00.040Z",
                   "dispatched_at": null})
        );
        assert_eq!(json["created_at"], "2026-11-22T10:00:00Z");
        assert_eq!(
            serde_json::from_value::<Order>(json.clone()).unwrap(),
            order
        );
        assert_eq!(
            order.order_to_sms(),
            Some(chrono::Duration::milliseconds(40))
        );
        let mut older = json;
        older.as_object_mut().unwrap().remove("timeline");
        let read: Order = serde_json::from_value(older).unwrap();
        assert_eq!((read.recorded_at, read.texted_at), (None, None));
        assert_eq!(read.timeline().placed_at, placed_at);
    }
}
