//! Every answer of the API is one its document describes (`openapi.json`): each route's successes and
//! refusals, driven through `delivery-local` as a client would, are held to `openapi.json`:
//! status documented, media type, body schema (undocumented fields refused) and headers.

use std::time::{Duration, Instant};

use crate::common::{Reply, Server};
use api_contract::Conformance;
use serde_json::{Value, json};

struct Client {
    server: Server,
    conformance: Conformance,
    departures: Vec<String>,
}

impl Client {
    /// Calls `path` (an instance of `resource`) and records how the answer departs from the
    /// document, if it does.
    fn call(
        &mut self,
        (method, resource, path): (&str, &str, &str),
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let text = body.map(Value::to_string);
        let reply = self
            .server
            .call(method, path, token, text.as_deref(), headers);
        let header = |name: &str| {
            reply
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        for departure in
            self.conformance
                .departures(method, resource, reply.status, header, &reply.json)
        {
            self.departures
                .push(format!("{method} {path}: {departure}"));
        }
        reply
    }
}

fn product(price: &str) -> Value {
    json!({"name": "Contract pizza", "description": "Two\nlines", "price": {"amount": price, "currency": "USD"}, "stock": 50})
}

fn products(c: &mut Client, customer: &str, acme: &str) {
    let list = ("GET", "/products", "/products?limit=2");
    assert_eq!(c.call(list, Some(customer), None, &[]).status, 200);
    let bad_limit = ("GET", "/products", "/products?limit=0");
    assert_eq!(c.call(bad_limit, Some(customer), None, &[]).status, 400);
    let typo = ("GET", "/products", "/products?limt=5");
    assert_eq!(c.call(typo, Some(customer), None, &[]).fields(), ["limt"]);
    assert_eq!(c.call(list, None, None, &[]).status, 401);
    let one = ("GET", "/products/{id}", "/products/pizza-margherita");
    assert_eq!(c.call(one, Some(customer), None, &[]).status, 200);
    let none = ("GET", "/products/{id}", "/products/no-such-thing");
    assert_eq!(c.call(none, Some(customer), None, &[]).status, 404);

    let put = ("PUT", "/products/{id}", "/products/contract-pizza");
    assert_eq!(
        c.call(put, Some(acme), Some(&product("9.50")), &[]).status,
        201
    );
    assert_eq!(
        c.call(put, Some(acme), Some(&product("9.75")), &[]).status,
        200
    );
    assert_eq!(
        c.call(put, Some(customer), Some(&product("1.00")), &[])
            .status,
        403
    );
    let text = [("content-type", "text/plain")];
    assert_eq!(
        c.call(put, Some(acme), Some(&product("1.00")), &text)
            .status,
        415
    );
    let huge = json!({"name": "x".repeat(70_000)});
    assert_eq!(c.call(put, Some(acme), Some(&huge), &[]).status, 413);
    let cents = json!({"name": "A", "price": {"amount": "9.5", "currency": "USD"}, "stock": 1});
    assert_eq!(c.call(put, Some(acme), Some(&cents), &[]).status, 400);

    let patch = ("PATCH", "/products/{id}", "/products/contract-pizza");
    let stale = [("if-match", "\"1\"")];
    let change = json!({"stock": 7});
    assert_eq!(c.call(patch, Some(acme), Some(&change), &stale).status, 412);
    assert_eq!(c.call(patch, Some(acme), Some(&json!({})), &[]).status, 400);
    assert_eq!(c.call(patch, Some(acme), Some(&change), &[]).status, 200);
    let absent = ("PATCH", "/products/{id}", "/products/never-made");
    assert_eq!(c.call(absent, Some(acme), Some(&change), &[]).status, 404);
}

fn orders(c: &mut Client, customer: &str) {
    let bill = ("POST", "/orders/total", "/orders/total");
    let basket = json!({"items": [{"product_id": "pizza-margherita", "quantity": 2}]});
    assert_eq!(c.call(bill, Some(customer), Some(&basket), &[]).status, 200);
    let ghost = json!({"items": [{"product_id": "ghost", "quantity": 1}]});
    assert_eq!(c.call(bill, Some(customer), Some(&ghost), &[]).status, 422);

    let place = ("POST", "/orders", "/orders");
    let order = json!({"items": [{"product_id": "pizza-margherita", "quantity": 1}],
                       "delivery": {"address": "742 Evergreen Terrace", "phone": "+15551234567"}});
    let key = [("idempotency-key", "contract-1")];
    let placed = c.call(place, Some(customer), Some(&order), &key);
    assert_eq!(placed.status, 202);
    let other = json!({"items": [{"product_id": "garlic-bread", "quantity": 1}], "delivery": order["delivery"]});
    assert_eq!(
        c.call(place, Some(customer), Some(&other), &key).status,
        422
    );
    assert_eq!(
        c.call(place, Some(customer), Some(&json!({"items": []})), &[])
            .status,
        400
    );

    let id = placed.json["order_id"].as_str().unwrap().to_owned();
    let path = format!("/orders/{id}");
    let one = ("GET", "/orders/{id}", path.as_str());
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.call(one, Some(customer), None, &[]).status != 200 {
        assert!(Instant::now() < deadline, "order {id} was never recorded");
        std::thread::sleep(Duration::from_millis(100));
    }
    let list = ("GET", "/orders", "/orders?limit=5");
    assert_eq!(c.call(list, Some(customer), None, &[]).status, 200);
    let bad_cursor = ("GET", "/orders", "/orders?cursor=not-ours");
    assert_eq!(c.call(bad_cursor, Some(customer), None, &[]).status, 400);
}

#[test]
fn every_answer_is_one_the_document_describes() {
    let server = Server::start();
    let (customer, acme) = (server.customer(), server.company("acme"));
    let ops = server.token_args(&["--sub", "ops", "--scope", "simulations:run"]);
    let mut c = Client {
        server,
        conformance: Conformance::default(),
        departures: Vec::new(),
    };
    products(&mut c, &customer, &acme);
    orders(&mut c, &customer);
    let simulate = ("POST", "/simulations", "/simulations");
    let run = json!({"orders": 3, "invalid_ratio": 0, "seed": 7});
    assert_eq!(c.call(simulate, Some(&ops), Some(&run), &[]).status, 202);
    assert_eq!(
        c.call(simulate, Some(&customer), Some(&run), &[]).status,
        403
    );
    assert!(c.departures.is_empty(), "{:#?}", c.departures);
}
