//! The bill for a basket (`POST /orders/total`), the same pricing every order goes through.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::ids::ProductId;
use crate::money::{Currency, Money, MoneyError};
use crate::order::RejectReason;
use crate::ports::Catalog;
use crate::product::Product;
use crate::validation::{FieldError, FieldErrors, JsonObject, Presence};

/// Lines a request may carry.
pub const MAX_LINES: usize = 100;
/// Quantity of one product in one basket, after merging.
pub const MAX_QUANTITY: u32 = 1000;
/// Distinct products in an order: recording one is a single DynamoDB transaction of at most
/// 100 actions, one per product plus the order itself.
pub const MAX_ORDER_PRODUCTS: usize = 99;

/// One line of a basket: a product and how many.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasketLine {
    pub product_id: ProductId,
    pub quantity: u32,
}

/// A validated basket: duplicate products merged, each line remembering the index of its first
/// occurrence in the request so that problems name the line the client sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Basket {
    lines: Vec<BasketLine>,
    indexes: Vec<usize>,
    /// What the merged basket exceeds (a product's total quantity, the number of different
    /// products): the request is well-formed, but cannot be served as a whole (a 422).
    over_limits: Vec<FieldError>,
}

impl Basket {
    /// The body of `POST /orders/total`: `{"items": [...]}`.
    pub fn from_json(body: &Value) -> Result<Basket, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let Some(obj) = JsonObject::root(body, &mut errors) else {
            return Err(errors.into_vec());
        };
        obj.deny_unknown(&["items"], &mut errors);
        let basket = Basket::from_items(&obj, MAX_LINES, &mut errors);
        errors.finish(|| basket)
    }

    /// Parses the `items` field of `obj`, allowing at most `max_products` distinct products.
    pub fn from_items(
        obj: &JsonObject<'_>,
        max_products: usize,
        errors: &mut FieldErrors,
    ) -> Option<Basket> {
        let items = obj.array("items", Presence::Required, errors)?;
        if items.is_empty() || items.len() > MAX_LINES {
            errors.add("items", format!("must have 1 to {MAX_LINES} lines"));
            return None;
        }
        let mut basket = Basket {
            lines: Vec::new(),
            indexes: Vec::new(),
            over_limits: Vec::new(),
        };
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match parse_line(item, i, errors) {
                Some(line) => basket.merge(line, i),
                None => ok = false,
            }
        }
        if basket.lines.len() > max_products {
            basket.over_limits.push(FieldError::new(
                "items",
                format!("an order may contain at most {max_products} different products"),
            ));
        }
        ok.then_some(basket)
    }

    /// Adds a line, merged into an earlier one of the same product. (At most 100 lines of at
    /// most 1,000 each: the sum cannot overflow.)
    fn merge(&mut self, line: BasketLine, index: usize) {
        let Some(pos) = self
            .lines
            .iter()
            .position(|l| l.product_id == line.product_id)
        else {
            self.lines.push(line);
            self.indexes.push(index);
            return;
        };
        let merged = self.lines[pos].quantity + line.quantity;
        if merged > MAX_QUANTITY {
            self.over_limits.push(FieldError::new(
                format!("items[{index}].quantity"),
                format!(
                    "with earlier lines, product {} totals {merged}; at most {MAX_QUANTITY}",
                    line.product_id
                ),
            ));
        }
        self.lines[pos].quantity = merged;
    }

    /// What the merged basket exceeds, each naming its field; empty when it is within limits.
    pub fn over_limits(&self) -> &[FieldError] {
        &self.over_limits
    }

    pub fn lines(&self) -> &[BasketLine] {
        &self.lines
    }

    pub fn product_ids(&self) -> Vec<ProductId> {
        self.lines.iter().map(|l| l.product_id.clone()).collect()
    }

    pub fn item_count(&self) -> u32 {
        self.lines.iter().map(|l| l.quantity).sum()
    }

    /// Lines with the request index each came from.
    fn indexed(&self) -> impl Iterator<Item = (usize, &BasketLine)> {
        self.indexes.iter().copied().zip(&self.lines)
    }
}

fn parse_line(item: &Value, i: usize, errors: &mut FieldErrors) -> Option<BasketLine> {
    let path = format!("items[{i}]");
    let obj = JsonObject::at(item, &path, errors)?;
    obj.deny_unknown(&["product_id", "quantity"], errors);
    let id = obj.string("product_id", Presence::Required, errors);
    let quantity = obj.integer(
        "quantity",
        Presence::Required,
        (1, i64::from(MAX_QUANTITY)),
        errors,
    );
    let product_id = match id.map(ProductId::parse) {
        Some(Ok(id)) => Some(id),
        Some(Err(e)) => {
            errors.add(obj.path_of("product_id"), e.0);
            None
        }
        None => None,
    };
    Some(BasketLine {
        product_id: product_id?,
        quantity: quantity? as u32,
    })
}

/// One priced line of a bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillLine {
    pub product_id: ProductId,
    pub name: String,
    pub quantity: u32,
    pub unit_price: Money,
    pub line_total: Money,
}

/// The bill for a basket: every line priced, and the exact total.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bill {
    pub lines: Vec<BillLine>,
    pub total: Money,
}

/// Why one line of a basket cannot be served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineProblem {
    UnknownProduct,
    Unavailable,
    InsufficientStock { in_stock: u32 },
    CurrencyMismatch { basket: Currency, line: Currency },
    Overflow,
}

/// A problem on the line at `index` of the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineIssue {
    pub index: usize,
    pub product_id: ProductId,
    pub problem: LineProblem,
}

impl LineIssue {
    pub fn field_error(&self) -> FieldError {
        let i = self.index;
        let id = &self.product_id;
        let (field, message) = match &self.problem {
            LineProblem::UnknownProduct => ("product_id", format!("product {id} does not exist")),
            LineProblem::Unavailable => ("product_id", format!("product {id} is not available")),
            LineProblem::InsufficientStock { in_stock } => (
                "quantity",
                format!("only {in_stock} of product {id} in stock"),
            ),
            LineProblem::CurrencyMismatch { basket, line } => (
                "product_id",
                format!("product {id} is priced in {line}, the basket in {basket}"),
            ),
            LineProblem::Overflow => ("quantity", "the total is too large".to_owned()),
        };
        FieldError::new(format!("items[{i}].{field}"), message)
    }

    /// The reason an order with this problem is rejected. A basket that can no longer be priced
    /// in one currency cannot be served as ordered, which the order model calls `unavailable`.
    pub fn reject_reason(&self) -> RejectReason {
        match self.problem {
            LineProblem::UnknownProduct => RejectReason::UnknownProduct,
            LineProblem::InsufficientStock { .. } => RejectReason::OutOfStock,
            LineProblem::Unavailable
            | LineProblem::CurrencyMismatch { .. }
            | LineProblem::Overflow => RejectReason::Unavailable,
        }
    }
}

/// The 422 for a basket that cannot be served, naming each offending line.
pub fn unprocessable(issues: &[LineIssue]) -> Error {
    Error::Unprocessable(issues.iter().map(LineIssue::field_error).collect())
}

/// The one reason an order is rejected for: the gravest of its lines' problems.
pub fn reject_reason(issues: &[LineIssue]) -> Option<RejectReason> {
    issues.iter().map(LineIssue::reject_reason).min()
}

/// The bill for a basket at the catalog's current prices: 422 naming each line that cannot be
/// served. The one pricing path of the bill and of `POST /orders`.
pub async fn quote(catalog: &dyn Catalog, basket: &Basket) -> Result<Bill, Error> {
    if !basket.over_limits.is_empty() {
        return Err(Error::Unprocessable(basket.over_limits.clone()));
    }
    let products = catalog.get_many(&basket.product_ids()).await?;
    let by_id: HashMap<ProductId, Product> =
        products.into_iter().map(|p| (p.id.clone(), p)).collect();
    price(basket, &by_id).map_err(|issues| unprocessable(&issues))
}

/// Prices a basket against the current catalog. Every offending line is reported, not just the
/// first; arithmetic is checked, so no input panics or overflows silently.
pub fn price(
    basket: &Basket,
    catalog: &HashMap<ProductId, Product>,
) -> Result<Bill, Vec<LineIssue>> {
    let currency = basket
        .lines
        .iter()
        .find_map(|l| catalog.get(&l.product_id))
        .map(|p| p.price.currency());
    let mut issues = Vec::new();
    let mut lines = Vec::with_capacity(basket.lines.len());
    let mut total = currency.map(Money::zero);
    for (index, line) in basket.indexed() {
        let issue = |problem| LineIssue {
            index,
            product_id: line.product_id.clone(),
            problem,
        };
        match price_line(line, catalog.get(&line.product_id), currency) {
            Ok(bill_line) => {
                match total.map(|t| t.checked_add(bill_line.line_total)) {
                    Some(Ok(t)) => total = Some(t),
                    _ => issues.push(issue(LineProblem::Overflow)),
                }
                lines.push(bill_line);
            }
            Err(problem) => issues.push(issue(problem)),
        }
    }
    match total {
        Some(total) if issues.is_empty() => Ok(Bill { lines, total }),
        _ => Err(issues),
    }
}

fn price_line(
    line: &BasketLine,
    product: Option<&Product>,
    currency: Option<Currency>,
) -> Result<BillLine, LineProblem> {
    let product = product.ok_or(LineProblem::UnknownProduct)?;
    if !product.available {
        return Err(LineProblem::Unavailable);
    }
    if line.quantity > product.stock {
        return Err(LineProblem::InsufficientStock {
            in_stock: product.stock,
        });
    }
    let line_currency = product.price.currency();
    if let Some(basket) = currency.filter(|c| *c != line_currency) {
        return Err(LineProblem::CurrencyMismatch {
            basket,
            line: line_currency,
        });
    }
    let line_total = product
        .price
        .checked_mul(line.quantity)
        .map_err(|_: MoneyError| LineProblem::Overflow)?;
    Ok(BillLine {
        product_id: line.product_id.clone(),
        name: product.name.clone(),
        quantity: line.quantity,
        unit_price: product.price,
        line_total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CompanyId;
    use chrono::Utc;
    use proptest::prelude::*;
    use serde_json::json;

    fn product(id: &str, minor: i64, currency: Currency, stock: u32, available: bool) -> Product {
        Product {
            id: ProductId::parse(id).unwrap(),
            company_id: CompanyId::parse("acme").unwrap(),
            name: format!("Product {id}"),
            description: String::new(),
            price: Money::from_minor(minor, currency),
            stock,
            available,
            stock_shards: 1,
            version: 1,
            updated_at: Utc::now(),
        }
    }

    fn catalog(products: Vec<Product>) -> HashMap<ProductId, Product> {
        products.into_iter().map(|p| (p.id.clone(), p)).collect()
    }

    #[test]
    fn merges_duplicates_and_prices_exactly() {
        let basket = Basket::from_json(&json!({"items": [
            {"product_id": "p1", "quantity": 2}, {"product_id": "p2", "quantity": 1},
            {"product_id": "p1", "quantity": 1}
        ]}))
        .unwrap();
        assert_eq!(basket.lines().len(), 2);
        let cat = catalog(vec![
            product("p1", 1250, Currency::Usd, 10, true),
            product("p2", 199, Currency::Usd, 10, true),
        ]);
        let bill = price(&basket, &cat).unwrap();
        assert_eq!(bill.lines[0].quantity, 3);
        assert_eq!(bill.total.amount_string(), "39.49");
        let json = serde_json::to_value(&bill).unwrap();
        assert_eq!(
            json["lines"][0]["line_total"],
            json!({"amount": "37.50", "currency": "USD"})
        );
    }

    #[test]
    fn basket_limits() {
        let many: Vec<_> = (0..101)
            .map(|i| json!({"product_id": format!("p{i}"), "quantity": 1}))
            .collect();
        let errors = Basket::from_json(&json!({ "items": many })).unwrap_err();
        assert_eq!(errors[0].field, "items");
        let errors = Basket::from_json(&json!({"items": []})).unwrap_err();
        assert_eq!(errors[0].field, "items");
        let errors = Basket::from_json(&json!({"items": [
            {"product_id": "p1", "quantity": 0}, {"product_id": "bad id", "quantity": 1001},
            {"product_id": "p3", "quantity": -1}, {"product_id": "p4", "quantity": "2"}, 7
        ]}))
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "items[0].quantity",
                "items[1].quantity",
                "items[1].product_id",
                "items[2].quantity",
                "items[3].quantity",
                "items[4]"
            ]
        );
        // Well-formed, but over the limit once merged: the basket parses, and cannot be served.
        let merged = Basket::from_json(&json!({"items": [
            {"product_id": "p1", "quantity": 600}, {"product_id": "p1", "quantity": 600}
        ]}))
        .unwrap();
        assert_eq!(merged.over_limits()[0].field, "items[1].quantity");
        assert_eq!(merged.lines()[0].quantity, 1200);
    }

    fn lines_of(quantities: &[(usize, u32)]) -> Value {
        let items: Vec<_> = quantities
            .iter()
            .map(|(p, q)| json!({"product_id": format!("p{p}"), "quantity": q}))
            .collect();
        json!({ "items": items })
    }

    #[test]
    fn basket_limits_on_lines_at_below_and_above() {
        let distinct = |n: usize| lines_of(&(0..n).map(|i| (i, 1)).collect::<Vec<_>>());
        for n in [1, MAX_LINES - 1, MAX_LINES] {
            let basket = Basket::from_json(&distinct(n)).unwrap();
            assert_eq!((basket.lines().len(), basket.item_count()), (n, n as u32));
            assert!(basket.over_limits().is_empty(), "{n} lines");
        }
        let errors = Basket::from_json(&distinct(MAX_LINES + 1)).unwrap_err();
        assert_eq!(errors[0].field, "items");
        // Orders allow one product fewer than a bill (the order itself is one more action).
        let order_limit = |n: usize| {
            let body = distinct(n);
            let mut errors = FieldErrors::default();
            let obj = JsonObject::root(&body, &mut errors).unwrap();
            Basket::from_items(&obj, MAX_ORDER_PRODUCTS, &mut errors)
                .unwrap()
                .over_limits()
                .to_vec()
        };
        assert!(order_limit(MAX_ORDER_PRODUCTS).is_empty());
        assert_eq!(order_limit(MAX_ORDER_PRODUCTS + 1)[0].field, "items");
    }

    #[test]
    fn basket_limits_on_quantities_at_below_and_above() {
        let max = MAX_QUANTITY;
        for q in [1, max - 1, max] {
            let basket = Basket::from_json(&lines_of(&[(0, q)])).unwrap();
            assert_eq!(basket.item_count(), q);
        }
        let errors = Basket::from_json(&lines_of(&[(0, max + 1)])).unwrap_err();
        assert_eq!(errors[0].field, "items[0].quantity");
        // Merged: exactly the limit is served, one more is over it, and the field named is the
        // line that crossed it.
        let at = Basket::from_json(&lines_of(&[(0, max - 1), (1, 5), (0, 1)])).unwrap();
        assert!(at.over_limits().is_empty());
        assert_eq!(at.lines()[0].quantity, max);
        assert_eq!(at.item_count(), max + 5);
        let over = Basket::from_json(&lines_of(&[(0, max), (1, 5), (0, 1)])).unwrap();
        assert_eq!(over.over_limits().len(), 1);
        assert_eq!(over.over_limits()[0].field, "items[2].quantity");
        assert!(
            over.over_limits()[0]
                .message
                .contains(&format!("totals {}", max + 1)),
            "{:?}",
            over.over_limits()
        );
    }

    /// A catalog whose answers are ready at once, so a single poll completes `quote`.
    struct Ready(HashMap<ProductId, Product>);

    #[async_trait::async_trait]
    impl Catalog for Ready {
        async fn get(&self, id: &ProductId) -> Result<Option<Product>, crate::error::PortError> {
            Ok(self.0.get(id).cloned())
        }
        async fn get_many(
            &self,
            ids: &[ProductId],
        ) -> Result<Vec<Product>, crate::error::PortError> {
            Ok(ids
                .iter()
                .filter_map(|id| self.0.get(id).cloned())
                .collect())
        }
        async fn list(
            &self,
            _: Option<&crate::ids::CompanyId>,
            _: &crate::ports::PageRequest,
        ) -> Result<crate::ports::Page<Product>, crate::error::PortError> {
            unreachable!("quote never lists")
        }
        async fn save(&self, _: &Product, _: Option<u64>) -> Result<(), crate::error::PortError> {
            unreachable!("quote never writes")
        }
        async fn save_as(
            &self,
            _: &Product,
            _: Option<u64>,
            _: &crate::history::Author,
        ) -> Result<(), crate::error::PortError> {
            unreachable!("quote never writes")
        }
        async fn history(
            &self,
            _: &ProductId,
            _: &crate::ports::PageRequest,
        ) -> Result<crate::ports::Page<crate::history::Entry>, crate::error::PortError> {
            unreachable!("quote never reads history")
        }
    }

    fn quote_now(catalog: &Ready, body: Value) -> Result<Bill, Error> {
        let basket = Basket::from_json(&body).unwrap();
        let mut fut = std::pin::pin!(quote(catalog, &basket));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(answer) => answer,
            std::task::Poll::Pending => unreachable!("the catalog answers at once"),
        }
    }

    #[test]
    fn quote_prices_a_basket_within_limits_and_refuses_one_over_them() {
        let cat = Ready(catalog(vec![product("p0", 250, Currency::Usd, 2000, true)]));
        let bill = quote_now(&cat, lines_of(&[(0, 4)])).unwrap();
        assert_eq!(bill.total.amount_string(), "10.00");
        let refused = quote_now(&cat, lines_of(&[(0, MAX_QUANTITY), (0, 1)])).unwrap_err();
        let Error::Unprocessable(fields) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(fields[0].field, "items[1].quantity");
        let Error::Unprocessable(fields) = quote_now(&cat, lines_of(&[(1, 1)])).unwrap_err() else {
            panic!("an unknown product is a 422")
        };
        assert_eq!(fields[0].field, "items[0].product_id");
    }

    #[test]
    fn names_each_offending_line() {
        let basket = Basket::from_json(&json!({"items": [
            {"product_id": "ok", "quantity": 1}, {"product_id": "ghost", "quantity": 1},
            {"product_id": "off", "quantity": 1}, {"product_id": "few", "quantity": 5},
            {"product_id": "eur", "quantity": 1}
        ]}))
        .unwrap();
        let cat = catalog(vec![
            product("ok", 100, Currency::Usd, 10, true),
            product("off", 100, Currency::Usd, 10, false),
            product("few", 100, Currency::Usd, 4, true),
            product("eur", 100, Currency::Eur, 10, true),
        ]);
        let issues = price(&basket, &cat).unwrap_err();
        let fields: Vec<_> = issues.iter().map(|i| i.field_error().field).collect();
        assert_eq!(
            fields,
            [
                "items[1].product_id",
                "items[2].product_id",
                "items[3].quantity",
                "items[4].product_id"
            ]
        );
        assert_eq!(reject_reason(&issues), Some(RejectReason::UnknownProduct));
        assert!(matches!(unprocessable(&issues), Error::Unprocessable(_)));
    }

    #[test]
    fn overflow_is_reported_not_wrapped() {
        let basket = Basket::from_json(&json!({"items": [
            {"product_id": "a", "quantity": 1000}, {"product_id": "b", "quantity": 1000}
        ]}))
        .unwrap();
        let cat = catalog(vec![
            product("a", i64::MAX / 1000, Currency::Jpy, 1000, true),
            product("b", i64::MAX / 1000, Currency::Jpy, 1000, true),
        ]);
        let issues = price(&basket, &cat).unwrap_err();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].problem, LineProblem::Overflow);
    }

    /// A catalog of up to eight products (`p0`..`p7`) and a basket of up to ten lines over
    /// `p0`..`p9`, drawn inside every limit: prices up to 100,000.00, at most 100 of a line and
    /// ten lines, so a merged quantity stays within `MAX_QUANTITY` and no sum can overflow.
    /// Every case therefore reaches the model comparison; the limits themselves are tested
    /// case by case (at, below and above each) in `basket_limits_*`.
    fn arb_catalog_and_basket()
    -> impl Strategy<Value = (HashMap<ProductId, Product>, Vec<(usize, u32)>)> {
        let product_strategy = (
            1i64..=10_000_000,
            proptest::bool::weighted(0.9),
            0u32..=300,
            proptest::bool::weighted(0.9),
        );
        (
            proptest::collection::btree_map(0usize..8, product_strategy, 0..8),
            proptest::collection::vec((0usize..10, 1u32..=100), 1..=10),
        )
            .prop_map(|(products, lines)| {
                let cat = catalog(
                    products
                        .into_iter()
                        .map(|(i, (minor, usd, stock, avail))| {
                            let currency = if usd { Currency::Usd } else { Currency::Eur };
                            product(&format!("p{i}"), minor, currency, stock, avail)
                        })
                        .collect(),
                );
                (cat, lines)
            })
    }

    /// A priced line as the model has it: product id, quantity, line total in minor units.
    type ModelLine = (String, u32, i64);
    /// The model's bill: its lines and the total in minor units.
    type ModelBill = (Vec<ModelLine>, i64);

    /// What `price` must answer, computed the plain way: lines merged in order of first
    /// occurrence, the basket's currency that of its first known product, each merged line
    /// checked in the documented order (unknown, unavailable, stock, currency).
    fn model(
        cat: &HashMap<ProductId, Product>,
        lines: &[(usize, u32)],
    ) -> Result<ModelBill, Vec<(usize, LineProblem)>> {
        let mut merged: Vec<(usize, usize, u32)> = Vec::new(); // (product, first index, quantity)
        for (index, &(p, q)) in lines.iter().enumerate() {
            match merged.iter_mut().find(|m| m.0 == p) {
                Some(m) => m.2 += q,
                None => merged.push((p, index, q)),
            }
        }
        let get = |p: usize| cat.get(&ProductId::parse(&format!("p{p}")).unwrap());
        let currency = merged
            .iter()
            .find_map(|m| get(m.0))
            .map(|p| p.price.currency());
        let (mut priced, mut issues) = (Vec::new(), Vec::new());
        for &(p, index, q) in &merged {
            let problem = match get(p) {
                None => Some(LineProblem::UnknownProduct),
                Some(pr) if !pr.available => Some(LineProblem::Unavailable),
                Some(pr) if q > pr.stock => {
                    Some(LineProblem::InsufficientStock { in_stock: pr.stock })
                }
                Some(pr) if Some(pr.price.currency()) != currency => {
                    Some(LineProblem::CurrencyMismatch {
                        basket: currency.unwrap(),
                        line: pr.price.currency(),
                    })
                }
                Some(pr) => {
                    priced.push((format!("p{p}"), q, pr.price.minor() * i64::from(q)));
                    None
                }
            };
            issues.extend(problem.map(|problem| (index, problem)));
        }
        if issues.is_empty() {
            let total = priced.iter().map(|l| l.2).sum();
            Ok((priced, total))
        } else {
            Err(issues)
        }
    }

    proptest! {
        #[test]
        fn pricing_matches_the_model((cat, lines) in arb_catalog_and_basket()) {
            let items: Vec<_> = lines
                .iter()
                .map(|(p, q)| json!({"product_id": format!("p{p}"), "quantity": q}))
                .collect();
            let basket = Basket::from_json(&json!({ "items": items })).unwrap();
            prop_assert!(basket.over_limits().is_empty());
            prop_assert_eq!(basket.item_count(), lines.iter().map(|l| l.1).sum::<u32>());
            match (price(&basket, &cat), model(&cat, &lines)) {
                (Ok(bill), Ok((expected, total))) => {
                    let got: Vec<_> = bill
                        .lines
                        .iter()
                        .map(|l| (l.product_id.to_string(), l.quantity, l.line_total.minor()))
                        .collect();
                    prop_assert_eq!(got, expected);
                    prop_assert_eq!(bill.total.minor(), total);
                    for l in &bill.lines {
                        prop_assert_eq!(l.line_total.currency(), bill.total.currency());
                    }
                }
                (Err(issues), Err(expected)) => {
                    let got: Vec<_> = issues.iter().map(|i| (i.index, i.problem.clone())).collect();
                    prop_assert_eq!(got, expected);
                    prop_assert!(reject_reason(&issues).is_some());
                }
                (got, expected) => prop_assert!(false, "price {got:?}, model {expected:?}"),
            }
        }

        #[test]
        fn arbitrary_json_never_panics(body in any_json()) {
            let _ = Basket::from_json(&body);
        }
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-z0-9 ]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("items".to_owned()),
                        Just("product_id".to_owned()),
                        Just("quantity".to_owned()),
                        "[a-z]{1,4}"
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
