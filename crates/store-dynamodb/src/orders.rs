//! The order store over the orders table, with stock reservation on the products table.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use domain::order::{CarrierRef, Delivery, Order, OrderLine, OrderStatus, RejectReason, timestamp};
use domain::ports::{Claim, OrderStore, Page, PageRequest, RecordOutcome};
use domain::product::MAX_STOCK_SHARDS;
use domain::{CarrierId, CustomerId, Money, OrderId, Phone, PortError, ProductId};
use rand::RngExt;
use retry_policy::Policy;
use std::time::Duration;

use crate::item::{Item, Reader, classify, is_conditional_failure, n, s};
use crate::schema::{AWAITING_PARTITIONS, ORDERS_AWAITING_DISPATCH, ORDERS_BY_CUSTOMER};
use crate::shards::{Stored, shard_key, stock_shards};
use crate::{DynamoStore, cursor};

fn status_from(s: &str) -> Result<OrderStatus, ()> {
    match s {
        "accepted" => Ok(OrderStatus::Accepted),
        "rejected" => Ok(OrderStatus::Rejected),
        "dispatched" => Ok(OrderStatus::Dispatched),
        _ => Err(()),
    }
}

fn reason_from(s: &str) -> Result<RejectReason, ()> {
    match s {
        "out_of_stock" => Ok(RejectReason::OutOfStock),
        "unavailable" => Ok(RejectReason::Unavailable),
        "unknown_product" => Ok(RejectReason::UnknownProduct),
        _ => Err(()),
    }
}

pub(crate) fn order_to_item(o: &Order) -> Result<Item, PortError> {
    let lines = serde_json::to_string(&o.lines).map_err(|e| PortError::Permanent(e.to_string()))?;
    let mut item = Item::from([
        ("id".to_owned(), s(o.id.to_string())),
        ("customer_id".to_owned(), s(o.customer_id.as_str())),
        ("created_at".to_owned(), s(timestamp(o.created_at))),
        ("status".to_owned(), s(o.status.as_str())),
        ("lines".to_owned(), s(lines)),
        ("address".to_owned(), s(&o.delivery.address)),
        ("phone".to_owned(), s(o.delivery.phone.as_str())),
    ]);
    if let Some(total) = o.total {
        item.insert("total_minor".to_owned(), n(total.minor()));
        item.insert("currency".to_owned(), s(total.currency().code()));
    }
    if let Some(reason) = o.reason {
        item.insert("reason".to_owned(), s(reason.as_str()));
    }
    if let Some(carrier) = &o.carrier {
        item.insert("carrier_id".to_owned(), s(carrier.id.as_str()));
        item.insert("carrier_name".to_owned(), s(&carrier.name));
    }
    let times = [
        ("recorded_at", o.recorded_at),
        ("announced_at", o.announced_at),
        ("texted_at", o.texted_at),
        ("dispatched_at", o.dispatched_at),
    ];
    for (name, at) in times {
        if let Some(at) = at {
            item.insert(name.to_owned(), s(timestamp(at)));
        }
    }
    if o.status == OrderStatus::Accepted {
        item.insert("awaiting".to_owned(), s(awaiting_label(o.id)));
    }
    Ok(item)
}

/// Which partition of [`ORDERS_AWAITING_DISPATCH`] an accepted order waits in: the last hex
/// digit of its id (random in a v4 UUID), one of [`AWAITING_PARTITIONS`].
fn awaiting_label(id: OrderId) -> String {
    let id = id.to_string();
    id[id.len() - 1..].to_owned()
}

pub(crate) fn order_from_item(item: &Item) -> Result<Order, PortError> {
    let r = Reader {
        item,
        what: "order",
    };
    let lines: Vec<OrderLine> = r.parse("lines", |l| serde_json::from_str(l))?;
    let total = match r.opt_n::<i64>("total_minor")? {
        Some(minor) => Some(Money::from_minor(
            minor,
            r.parse("currency", domain::Currency::parse)?,
        )),
        None => None,
    };
    let carrier = match r.opt_s("carrier_id") {
        Some(_) => Some(CarrierRef {
            id: r.parse("carrier_id", CarrierId::parse)?,
            name: r.s("carrier_name")?.to_owned(),
        }),
        None => None,
    };
    Ok(Order {
        id: r.parse("id", OrderId::parse)?,
        customer_id: r.parse("customer_id", CustomerId::parse)?,
        lines,
        total,
        delivery: Delivery {
            address: r.s("address")?.to_owned(),
            phone: r.parse("phone", Phone::parse)?,
        },
        status: r.parse("status", status_from)?,
        reason: r
            .opt_s("reason")
            .map(|_| r.parse("reason", reason_from))
            .transpose()?,
        carrier,
        created_at: r.time("created_at")?,
        recorded_at: r.opt_time("recorded_at")?,
        announced_at: r.opt_time("announced_at")?,
        texted_at: r.opt_time("texted_at")?,
        dispatched_at: r.opt_time("dispatched_at")?,
    })
}

fn key(id: OrderId) -> Item {
    Item::from([("id".to_owned(), s(id.to_string()))])
}

fn build_err(e: impl std::fmt::Display) -> PortError {
    PortError::Permanent(e.to_string())
}

/// Where one line of an order takes its stock from: one of its product's shards, at random
/// among those not yet refused, and not throttled if it can.
#[derive(Clone, Debug)]
struct Take {
    shards: u8,
    /// The shards that refused this order for their stock, one bit each.
    refused: u32,
    /// The shards that throttled this order (past DynamoDB's per-item write limit), one bit
    /// each: their stock may serve it, but another shard is tried first.
    throttled: u32,
    shard: u8,
    /// The shard was not there: the product's shards changed, so S must be read again.
    lost: bool,
}

impl Take {
    fn new(shards: u8) -> Take {
        let mut take = Take {
            shards: shards.max(1),
            refused: 0,
            throttled: 0,
            shard: 0,
            lost: false,
        };
        take.next();
        take
    }

    /// Moves to a shard `avoid` leaves open, at random; false when none is.
    fn pick(&mut self, avoid: u32) -> bool {
        let open: Vec<u8> = (0..self.shards).filter(|k| avoid & (1 << k) == 0).collect();
        if open.is_empty() {
            return false;
        }
        self.shard = open[rand::rng().random_range(0..open.len())];
        true
    }

    /// Moves to a shard not yet refused, one that has not throttled if there is one; false
    /// when every shard has refused.
    fn next(&mut self) -> bool {
        self.pick(self.refused | self.throttled) || self.pick(self.refused)
    }

    /// The current shard throttled: moves to one that has neither throttled nor refused, so
    /// that a sale's reservations spread over the shards' write limits at once instead of
    /// waiting for one item to cool. False when there is none (the order is retried later).
    fn throttled_by(&mut self) -> bool {
        self.throttled |= 1 << self.shard;
        self.pick(self.refused | self.throttled)
    }

    /// Every shard has refused.
    fn exhausted(&self) -> bool {
        (0..self.shards).all(|k| self.refused & (1 << k) != 0)
    }

    /// The current shard refused, and the product now has `shards` of them.
    fn refused_by(&mut self, shards: u8) -> bool {
        self.refused |= 1 << self.shard;
        self.shards = shards.max(1);
        self.next()
    }
}

/// Each shard of a product refused at its own moment, and a company's write may have moved
/// stock between them since: true when every line that ran out has a shard with enough in
/// `stored` (read after the refusals), which the line then tries.
fn retake(stored: &[Stored], lines: &[OrderLine], takes: &mut [Take]) -> bool {
    for (line, take) in lines.iter().zip(takes.iter_mut()) {
        if !take.exhausted() {
            continue;
        }
        let Some(product) = stored.iter().find(|s| s.product.id == line.product_id) else {
            return false;
        };
        let enough = product.shard_stock.iter().position(|&s| s >= line.quantity);
        let Some(shard) = enough else {
            return false;
        };
        *take = Take::new(product.product.stock_shards);
        take.shard = shard as u8;
    }
    true
}

/// What a line's refusal says, from its shard as it was (`ALL_OLD`) when it refused.
fn refusal(reason: &CancellationReason, take: &Take) -> Result<RejectReason, Option<u8>> {
    let Some(item) = reason.item() else {
        return match take.shard {
            0 => Ok(RejectReason::UnknownProduct),
            // A shard past a lowered S: read S again.
            _ => Err(None),
        };
    };
    if item.get("available").and_then(|v| v.as_bool().ok()) != Some(&true) {
        return Ok(RejectReason::Unavailable);
    }
    let r = Reader {
        item,
        what: "stock shard",
    };
    // Too little stock in this shard: the others may have enough.
    Err(Some(stock_shards(&r).unwrap_or(take.shards)))
}

/// The wait before a throttled line tries another shard, with full jitter: the throttle says
/// the item is past its share of its partition's write units this second, and many orders
/// throttled together would otherwise all land on the next shards at once. (The attempts are
/// bounded by the shards, in `reserve_and_record`; the processor's own retries back off
/// further when every shard has throttled.)
const SHARD_COOLING: Policy = Policy {
    // Never read: only this policy's delays are used; the loop bounds the attempts.
    attempts: 1,
    base: Duration::from_millis(10),
    cap: Duration::from_millis(160),
};

/// What a cancelled reservation transaction means.
#[derive(Debug, PartialEq)]
enum Cancelled {
    AlreadyRecorded,
    Rejected(RejectReason),
    /// Some lines move to other shards: try again.
    Moved,
    /// Some lines were throttled and move to other shards: back off, then try again.
    Cooling,
    /// Not cancelled: the order is recorded.
    Accepted,
    Transient(String),
}

/// Reads the cancellation reasons: index `i < lines` is line `i`, index `lines` the order put.
/// A line refused for its shard's stock moves to another shard of its product.
fn read_cancellation(
    reasons: &[CancellationReason],
    lines: &[OrderLine],
    takes: &mut [Take],
) -> Cancelled {
    let code = |r: &CancellationReason| r.code().unwrap_or("None").to_owned();
    if reasons
        .get(lines.len())
        .is_some_and(|r| code(r) == "ConditionalCheckFailed")
    {
        return Cancelled::AlreadyRecorded;
    }
    let mut rejected = None;
    let mut moved = false;
    for (reason, take) in reasons.iter().zip(takes.iter_mut()) {
        if code(reason) != "ConditionalCheckFailed" {
            continue;
        }
        let outcome = match refusal(reason, take) {
            Ok(reason) => Some(reason),
            Err(None) => {
                take.lost = true;
                None
            }
            Err(Some(shards)) if take.refused_by(shards) => None,
            Err(Some(_)) => Some(RejectReason::OutOfStock),
        };
        match outcome {
            Some(reason) => {
                rejected = Some(rejected.map_or(reason, |r: RejectReason| r.min(reason)))
            }
            None => moved = true,
        }
    }
    if let Some(reason) = rejected {
        return Cancelled::Rejected(reason);
    }
    let throttled = reasons
        .iter()
        .zip(takes.iter_mut())
        .filter(|(r, _)| code(r) == "ThrottlingError");
    let (mut cooling, mut stuck) = (false, false);
    for (_, take) in throttled {
        if take.throttled_by() {
            cooling = true;
        } else {
            stuck = true;
        }
    }
    if !stuck && cooling {
        return Cancelled::Cooling;
    }
    if !stuck && moved {
        return Cancelled::Moved;
    }
    Cancelled::Transient(transient_detail(reasons, lines))
}

/// Why a cancellation is transient, in words: its reasons' codes, and the products throttled.
fn transient_detail(reasons: &[CancellationReason], lines: &[OrderLine]) -> String {
    let code = |r: &CancellationReason| r.code().unwrap_or("None").to_owned();
    let codes: Vec<String> = reasons.iter().map(code).filter(|c| c != "None").collect();
    // A hot product's item past DynamoDB's per-item write limit: named, so that the logs say
    // which product a sale is throttling (a retry may find it cooler, or take another shard).
    let hot: Vec<&str> = reasons
        .iter()
        .zip(lines)
        .filter(|(r, _)| code(r) == "ThrottlingError")
        .map(|(_, line)| line.product_id.as_str())
        .collect();
    let mut detail = format!("transaction cancelled: {}", codes.join(", "));
    if !hot.is_empty() {
        detail.push_str(&format!(" (throttled products: {})", hot.join(", ")));
    }
    detail
}

impl DynamoStore {
    /// Puts a rejected order only if it does not exist yet (an accepted one is recorded with
    /// its reservation, in [`DynamoStore::reserve_and_record`]).
    async fn put_rejected(&self, order: &Order) -> Result<RecordOutcome, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.orders)
            .set_item(Some(order_to_item(order)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(RecordOutcome::Rejected(order.clone())),
            Err(e) if is_conditional_failure(&e) => self.already_recorded(order.id).await,
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    async fn already_recorded(&self, id: OrderId) -> Result<RecordOutcome, PortError> {
        let stored = self.get(id).await?.ok_or_else(|| {
            PortError::Transient(format!(
                "order {id} reported as existing but not readable yet"
            ))
        })?;
        Ok(RecordOutcome::AlreadyRecorded(stored))
    }

    fn reservation(&self, line: &OrderLine, take: &Take) -> Result<TransactWriteItem, PortError> {
        let update = Update::builder()
            .table_name(&self.tables.products)
            .key("id", s(shard_key(line.product_id.as_str(), take.shard)))
            .update_expression("SET stock = stock - :q, version = version + :one")
            .condition_expression("attribute_exists(id) AND available = :true AND stock >= :q")
            .expression_attribute_values(":q", n(line.quantity))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// How many shards hold a product's stock: as last read, or read now (`fresh`: always
    /// read, consistently). An unknown product has 1 (its reservation then finds no item).
    async fn shard_count(&self, id: &ProductId, fresh: bool) -> Result<u8, PortError> {
        if !fresh && let Some(shards) = self.remembered_shards(id) {
            return Ok(shards);
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.products)
            .key("id", s(id.as_str()))
            .projection_expression("stock_shards")
            .consistent_read(fresh)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let shards = match &out.item {
            Some(item) => stock_shards(&Reader {
                item,
                what: "product",
            })?,
            None => 1,
        };
        self.remember_shards(id, shards);
        Ok(shards)
    }

    /// One attempt: every line's take and the order's put, in one transaction.
    async fn try_reserve(&self, order: &Order, takes: &mut [Take]) -> Result<Cancelled, PortError> {
        let mut items = order
            .lines
            .iter()
            .zip(takes.iter())
            .map(|(line, take)| self.reservation(line, take))
            .collect::<Result<Vec<_>, _>>()?;
        let put = Put::builder()
            .table_name(&self.tables.orders)
            .set_item(Some(order_to_item(order)?))
            .condition_expression("attribute_not_exists(id)")
            .build()
            .map_err(build_err)?;
        items.push(TransactWriteItem::builder().put(put).build());
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Cancelled::Accepted),
            Err(e) => e,
        };
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => Ok(
                read_cancellation(c.cancellation_reasons(), &order.lines, takes),
            ),
            _ => Err(classify("TransactWriteItems", err)),
        }
    }

    /// Before an order is refused for stock: its shards, read again (see [`retake`]).
    async fn recheck(&self, order: &Order, takes: &mut [Take]) -> Result<bool, PortError> {
        let ids: Vec<ProductId> = order.lines.iter().map(|l| l.product_id.clone()).collect();
        let stored = self.stored(&ids).await?;
        Ok(retake(&stored, &order.lines, takes))
    }

    /// Reserves every line's stock and records the order accepted, in one transaction; a line
    /// refused by one shard of its product tries the others before the order is rejected.
    async fn reserve_and_record(&self, order: &Order) -> Result<RecordOutcome, PortError> {
        let mut takes = Vec::with_capacity(order.lines.len());
        for line in &order.lines {
            takes.push(Take::new(self.shard_count(&line.product_id, false).await?));
        }
        let (mut rechecked, mut throttles) = (false, 0);
        // Each attempt but the last two moves at least one line off a shard that refused or
        // throttled it, which it does not go back to (each at most once per shard).
        for _ in 0..=2 * MAX_STOCK_SHARDS + 2 {
            for (line, take) in order.lines.iter().zip(takes.iter_mut()) {
                if take.lost {
                    *take = Take::new(self.shard_count(&line.product_id, true).await?);
                } else {
                    self.remember_shards(&line.product_id, take.shards);
                }
            }
            match self.try_reserve(order, &mut takes).await? {
                Cancelled::Accepted => return Ok(RecordOutcome::Accepted(order.clone())),
                Cancelled::AlreadyRecorded => return self.already_recorded(order.id).await,
                Cancelled::Rejected(RejectReason::OutOfStock)
                    if !std::mem::replace(&mut rechecked, true)
                        && self.recheck(order, &mut takes).await? => {}
                Cancelled::Rejected(reason) => {
                    tracing::info!(order_id = %order.id, reason = reason.as_str(), "reservation refused");
                    return self.put_rejected(&order.rejected(reason)).await;
                }
                Cancelled::Moved => {}
                Cancelled::Cooling => {
                    tokio::time::sleep(SHARD_COOLING.delay(throttles)).await;
                    throttles += 1;
                }
                Cancelled::Transient(detail) => return Err(PortError::Transient(detail)),
            }
        }
        Err(PortError::Transient(
            "the order's stock shards kept changing under it".to_owned(),
        ))
    }
}

impl DynamoStore {
    /// Every order, page by page (a consistent Scan): for an operator's audit of a rehearsal
    /// (`delivery-local`), never on a request's path.
    pub async fn all_orders(&self) -> Result<Vec<Order>, PortError> {
        self.scan_all(&self.tables.orders)
            .await?
            .iter()
            .map(order_from_item)
            .collect()
    }
}

#[async_trait]
impl OrderStore for DynamoStore {
    async fn record(&self, order: &Order) -> Result<RecordOutcome, PortError> {
        match order.status {
            OrderStatus::Accepted => self.reserve_and_record(order).await,
            OrderStatus::Rejected => self.put_rejected(order).await,
            OrderStatus::Dispatched => Err(PortError::Permanent(
                "an order is recorded accepted or rejected, never dispatched".to_owned(),
            )),
        }
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.orders)
            .set_key(Some(key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        out.item.as_ref().map(order_from_item).transpose()
    }

    async fn list_for_customer(
        &self,
        customer: &CustomerId,
        request: &PageRequest,
    ) -> Result<Page<Order>, PortError> {
        let listing = format!("orders@{customer}");
        let expected = [
            ("id", None),
            ("created_at", None),
            ("customer_id", Some(customer.as_str())),
        ];
        let start = request
            .cursor
            .as_ref()
            .map(|c| cursor::decode(c, &listing, &expected))
            .transpose()?;
        let out = self
            .client
            .query()
            .table_name(&self.tables.orders)
            .index_name(ORDERS_BY_CUSTOMER.name)
            .key_condition_expression("customer_id = :c")
            .expression_attribute_values(":c", s(customer.as_str()))
            .scan_index_forward(false)
            .limit(i32::try_from(request.limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        cursor::page(
            out.items(),
            out.last_evaluated_key(),
            &listing,
            order_from_item,
        )
    }

    async fn awaiting_dispatch(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Order>, PortError> {
        let mut found = Vec::new();
        for k in 0..AWAITING_PARTITIONS {
            if found.len() >= limit {
                break;
            }
            let out = self
                .client
                .query()
                .table_name(&self.tables.orders)
                .index_name(ORDERS_AWAITING_DISPATCH.name)
                .key_condition_expression("awaiting = :k AND recorded_at < :before")
                .expression_attribute_values(":k", s(format!("{k:x}")))
                .expression_attribute_values(":before", s(timestamp(before)))
                .limit(i32::try_from(limit - found.len()).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            for item in out.items() {
                found.push(order_from_item(item)?);
            }
        }
        Ok(found)
    }

    async fn claim_dispatch(
        &self,
        id: OrderId,
        claimant: &str,
        at: DateTime<Utc>,
        lease: chrono::Duration,
        announced_at: DateTime<Utc>,
    ) -> Result<Claim, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.orders)
            .set_key(Some(key(id)))
            // The holder sets its claim's expiry, so a claim it extends holds against every
            // later claimant, whatever their own lease. An order texted by a delivery that
            // could not record it is never claimed again: it is to be recorded, not texted.
            // The first claim keeps when the event was announced (a redelivery's is later).
            .update_expression(
                "SET dispatch_claim = :claimant, dispatch_claim_expires = :until, \
                 announced_at = if_not_exists(announced_at, :announced)",
            )
            .condition_expression(
                "#status = :accepted AND attribute_not_exists(texted_carrier_id) AND (attribute_not_exists(dispatch_claim) OR dispatch_claim = :claimant OR dispatch_claim_expires < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":accepted", s(OrderStatus::Accepted.as_str()))
            .expression_attribute_values(":claimant", s(claimant))
            .expression_attribute_values(":now", n(at.timestamp_millis()))
            .expression_attribute_values(":until", n((at + lease).timestamp_millis()))
            .expression_attribute_values(":announced", s(timestamp(announced_at)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Taken),
            Err(e) if is_conditional_failure(&e) => Ok(Claim::Held),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    async fn hold_texted(
        &self,
        id: OrderId,
        claimant: &str,
        carrier: &CarrierRef,
        at: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Claim, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.orders)
            .set_key(Some(key(id)))
            .update_expression(
                "SET dispatch_claim_expires = :until, texted_carrier_id = :cid, texted_carrier_name = :cname, \
                 texted_at = if_not_exists(texted_at, :texted)",
            )
            .condition_expression("#status = :accepted AND dispatch_claim = :claimant")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":accepted", s(OrderStatus::Accepted.as_str()))
            .expression_attribute_values(":claimant", s(claimant))
            .expression_attribute_values(":until", n((at + lease).timestamp_millis()))
            .expression_attribute_values(":cid", s(carrier.id.as_str()))
            .expression_attribute_values(":cname", s(&carrier.name))
            .expression_attribute_values(":texted", s(timestamp(at)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Taken),
            Err(e) if is_conditional_failure(&e) => Ok(Claim::Held),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    async fn texted(&self, id: OrderId) -> Result<Option<CarrierRef>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.orders)
            .set_key(Some(key(id)))
            .consistent_read(true)
            .projection_expression("#status, texted_carrier_id, texted_carrier_name")
            .expression_attribute_names("#status", "status")
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
        };
        if text("status") != Some(OrderStatus::Accepted.as_str()) {
            return Ok(None);
        }
        match (text("texted_carrier_id"), text("texted_carrier_name")) {
            (Some(carrier), Some(name)) => Ok(Some(CarrierRef {
                id: CarrierId::parse(carrier).map_err(|e| {
                    PortError::Permanent(format!("order {id}: texted_carrier_id: {e}"))
                })?,
                name: name.to_owned(),
            })),
            _ => Ok(None),
        }
    }

    async fn release_dispatch_claim(&self, id: OrderId, claimant: &str) -> Result<(), PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.orders)
            .set_key(Some(key(id)))
            .update_expression("REMOVE dispatch_claim, dispatch_claim_expires")
            .condition_expression("dispatch_claim = :claimant")
            .expression_attribute_values(":claimant", s(claimant))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    async fn mark_dispatched(
        &self,
        id: OrderId,
        carrier: &CarrierRef,
        texted_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Order, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.orders)
            .set_key(Some(key(id)))
            .update_expression(
                "SET #status = :dispatched, carrier_id = :cid, carrier_name = :cname, dispatched_at = :at, \
                 texted_at = if_not_exists(texted_at, :texted) \
                 REMOVE dispatch_claim, dispatch_claim_expires, texted_carrier_id, texted_carrier_name, awaiting",
            )
            .condition_expression("#status = :accepted")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":dispatched", s(OrderStatus::Dispatched.as_str()))
            .expression_attribute_values(":accepted", s(OrderStatus::Accepted.as_str()))
            .expression_attribute_values(":cid", s(carrier.id.as_str()))
            .expression_attribute_values(":cname", s(&carrier.name))
            .expression_attribute_values(":at", s(timestamp(at)))
            .expression_attribute_values(":texted", s(timestamp(texted_at)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => out
                .attributes
                .as_ref()
                .map(order_from_item)
                .unwrap_or_else(|| {
                    Err(PortError::Permanent(
                        "UpdateItem returned no attributes".to_owned(),
                    ))
                }),
            Err(e) if is_conditional_failure(&e) => match self.get(id).await? {
                None => Err(PortError::NotFound),
                Some(order) if order.status == OrderStatus::Dispatched => Ok(order),
                Some(order) => Err(PortError::Permanent(format!(
                    "order {id} is {} and cannot be dispatched",
                    order.status.as_str()
                ))),
            },
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::product::Product;

    fn line(id: &str, quantity: u32) -> OrderLine {
        OrderLine {
            product_id: ProductId::parse(id).unwrap(),
            name: None,
            quantity,
            unit_price: None,
            line_total: None,
        }
    }

    fn reason(code: &str, item: Option<Item>) -> CancellationReason {
        CancellationReason::builder()
            .code(code)
            .set_item(item)
            .build()
    }

    fn shard(stock: u32, available: bool, shards: u8) -> Item {
        Item::from([
            ("stock".to_owned(), n(stock)),
            ("available".to_owned(), AttributeValue::Bool(available)),
            ("stock_shards".to_owned(), n(shards)),
        ])
    }

    fn at(shards: u8, shard: u8) -> Take {
        let mut take = Take::new(shards);
        take.shard = shard;
        take
    }

    #[test]
    fn a_take_tries_every_shard_once_in_random_order() {
        assert_eq!(
            Take::new(0).shards,
            1,
            "no product has fewer than one shard"
        );
        let mut first = [0; 4];
        for _ in 0..400 {
            let mut take = Take::new(4);
            first[usize::from(take.shard)] += 1;
            let mut seen = vec![take.shard];
            while take.refused_by(4) {
                assert!(!take.exhausted());
                seen.push(take.shard);
            }
            assert!(take.exhausted());
            seen.sort();
            assert_eq!(seen, [0, 1, 2, 3]);
        }
        // Random: each shard is tried first about a quarter of the time (a fixed choice fails
        // this with certainty, a fair one with a probability far below 10^-9).
        assert!(first.iter().all(|&n| n > 40), "{first:?}");
        // A count raised since: the new shards are tried too; lowered: only those left.
        let mut take = at(2, 0);
        assert!(take.refused_by(2));
        assert!(take.refused_by(3));
        assert_eq!(take.shard, 2);
        assert!(!take.refused_by(3));
        let mut take = at(8, 5);
        assert!(take.refused_by(1));
        assert_eq!(take.shard, 0);
        assert!(!take.refused_by(1));
    }

    #[test]
    fn a_cancellation_says_recorded_rejected_moved_or_transient() {
        let lines = [line("a", 1), line("b", 1)];
        let none = || reason("None", None);
        let ccf = |item| reason("ConditionalCheckFailed", item);
        let read = |reasons: &[CancellationReason], takes: &mut [Take]| {
            read_cancellation(reasons, &lines, takes)
        };
        let mut takes = [at(1, 0), at(1, 0)];
        assert_eq!(
            read(&[none(), none(), ccf(None)], &mut takes),
            Cancelled::AlreadyRecorded
        );
        // Unknown only where shard 0, the product's own item, is missing.
        let cancelled = read(&[ccf(None), none(), none()], &mut takes);
        assert_eq!(cancelled, Cancelled::Rejected(RejectReason::UnknownProduct));
        let mut takes = [at(4, 2), at(1, 0)];
        assert_eq!(
            read(&[ccf(None), none(), none()], &mut takes),
            Cancelled::Moved
        );
        assert!(takes[0].lost && !takes[1].lost);
        // Unavailable, from the shard as it was.
        let off = ccf(Some(shard(5, false, 4)));
        assert_eq!(
            read(&[off, none(), none()], &mut [at(4, 1), at(1, 0)]),
            Cancelled::Rejected(RejectReason::Unavailable)
        );
        // Too little in this shard: another one is tried, until none is left.
        let mut takes = [at(2, 0), at(1, 0)];
        let low = || ccf(Some(shard(0, true, 2)));
        assert_eq!(read(&[low(), none(), none()], &mut takes), Cancelled::Moved);
        assert_eq!(takes[0].shard, 1);
        assert_eq!(
            read(&[low(), none(), none()], &mut takes),
            Cancelled::Rejected(RejectReason::OutOfStock)
        );
        // The first reason in the domain's order wins over a line that merely moves.
        let mut takes = [at(2, 0), at(1, 0)];
        let both = [low(), ccf(None), none()];
        assert_eq!(
            read(&both, &mut takes),
            Cancelled::Rejected(RejectReason::UnknownProduct)
        );
        let mut takes = [at(1, 0), at(1, 0)];
        let both = [
            ccf(Some(shard(0, true, 1))),
            ccf(Some(shard(3, false, 1))),
            none(),
        ];
        assert_eq!(
            read(&both, &mut takes),
            Cancelled::Rejected(RejectReason::OutOfStock.min(RejectReason::Unavailable))
        );
        // A throttled shard: the line moves to one that has not throttled, never back to it,
        // and an order is transient once one of its lines has no such shard left.
        let throttled = [reason("ThrottlingError", None), none(), none()];
        let mut takes = [at(2, 0), at(1, 0)];
        assert_eq!(read(&throttled, &mut takes), Cancelled::Cooling);
        assert_eq!((takes[0].shard, takes[0].throttled), (1, 0b01));
        let mut moved = [at(3, 1), at(1, 0)];
        moved[0].refused = 0b100;
        assert_eq!(read(&throttled, &mut moved), Cancelled::Cooling);
        assert_eq!(moved[0].shard, 0, "shard 2 refused, shard 1 throttled");
        assert!(matches!(
            read(&throttled, &mut takes),
            Cancelled::Transient(_)
        ));
        // Past a refusal, a throttled shard is tried again rather than the order rejected.
        let mut takes = [at(2, 0), at(1, 0)];
        takes[0].throttled = 0b10;
        assert_eq!(read(&[low(), none(), none()], &mut takes), Cancelled::Moved);
        assert_eq!(takes[0].shard, 1);
        // A line with nowhere to go holds the order back, even when another line moved.
        let both = [
            reason("ThrottlingError", None),
            reason("ThrottlingError", None),
            none(),
        ];
        assert!(matches!(
            read(&both, &mut [at(2, 0), at(1, 0)]),
            Cancelled::Transient(_)
        ));
        // Anything else is transient, naming the throttled products.
        match read(&throttled, &mut [at(1, 0), at(1, 0)]) {
            Cancelled::Transient(detail) => {
                assert_eq!(
                    detail,
                    "transaction cancelled: ThrottlingError (throttled products: a)"
                );
            }
            other => panic!("{other:?}"),
        }
        let conflict = [none(), reason("TransactionConflict", None), none()];
        assert_eq!(
            read(&conflict, &mut [at(1, 0), at(1, 0)]),
            Cancelled::Transient("transaction cancelled: TransactionConflict".to_owned())
        );
    }

    fn stored(id: &str, shard_stock: Vec<u32>) -> Stored {
        let product = Product {
            id: ProductId::parse(id).unwrap(),
            company_id: domain::CompanyId::parse("acme").unwrap(),
            name: id.to_owned(),
            description: String::new(),
            price: Money::from_minor(100, domain::Currency::Usd),
            stock: shard_stock.iter().sum(),
            available: true,
            stock_shards: shard_stock.len() as u8,
            version: 1,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        };
        Stored::with_stock(product, shard_stock)
    }

    fn exhausted(shards: u8) -> Take {
        let mut take = Take::new(shards);
        take.refused = u32::MAX;
        take
    }

    #[test]
    fn a_line_that_ran_out_tries_again_only_where_a_shard_has_enough_now() {
        let lines = [line("a", 2), line("b", 1)];
        // Stock moved into shard 2 since its refusal: tried there, afresh.
        let now = [stored("a", vec![0, 1, 2]), stored("b", vec![0])];
        let mut takes = [exhausted(3), at(1, 0)];
        assert!(retake(&now, &lines, &mut takes));
        assert_eq!(
            (takes[0].shard, takes[0].refused, takes[0].shards),
            (2, 0, 3)
        );
        // Enough in sum, not in one shard: still out of stock.
        let now = [stored("a", vec![1, 1, 1]), stored("b", vec![0])];
        assert!(!retake(&now, &lines, &mut [exhausted(3), at(1, 0)]));
        // Only the lines that ran out are read for: b (not exhausted) is left as it is.
        let mut takes = [exhausted(3), at(1, 0)];
        assert!(retake(&[stored("a", vec![2])], &lines, &mut takes));
        assert_eq!((takes[0].shards, takes[1].shard), (1, 0));
        assert!(
            !retake(&[], &lines, &mut [exhausted(3), at(1, 0)]),
            "a product gone"
        );
    }
}
