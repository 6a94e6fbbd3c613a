//! The demo data of a first start: two companies, a dozen products, three carriers.

use chrono::Utc;
use domain::carrier::Carrier;
use domain::ports::{Carriers, Catalog};
use domain::product::Product;
use domain::{CarrierId, CompanyId, Currency, Money, Phone, PortError, ProductId};
use store_dynamodb::DynamoStore;

const PRODUCTS: [(&str, &str, &str, &str, i64, u32); 12] = [
    (
        "pizza-margherita",
        "acme",
        "Margherita",
        "Tomato, mozzarella, basil.",
        1250,
        120,
    ),
    (
        "pizza-pepperoni",
        "acme",
        "Pepperoni",
        "Tomato, mozzarella, pepperoni.",
        1400,
        80,
    ),
    (
        "pizza-funghi",
        "acme",
        "Funghi",
        "Mushrooms, mozzarella, thyme.",
        1325,
        60,
    ),
    (
        "calzone",
        "acme",
        "Calzone",
        "Folded pizza with ricotta and ham.",
        1100,
        40,
    ),
    (
        "garlic-bread",
        "acme",
        "Garlic bread",
        "Four slices.",
        450,
        200,
    ),
    (
        "tiramisu",
        "acme",
        "Tiramisu",
        "Coffee, mascarpone, cocoa.",
        675,
        30,
    ),
    (
        "sparkling-water",
        "globex",
        "Sparkling water",
        "500 ml.",
        199,
        500,
    ),
    (
        "lemonade",
        "globex",
        "Lemonade",
        "Fresh lemons, 330 ml.",
        249,
        300,
    ),
    (
        "caesar-salad",
        "globex",
        "Caesar salad",
        "Romaine, parmesan, croutons.",
        890,
        50,
    ),
    (
        "club-sandwich",
        "globex",
        "Club sandwich",
        "Chicken, bacon, egg.",
        780,
        70,
    ),
    ("brownie", "globex", "Brownie", "Dark chocolate.", 325, 90),
    (
        "coffee-beans",
        "globex",
        "Coffee beans",
        "Single origin, 250 g.",
        1500,
        25,
    ),
];

const CARRIERS: [(&str, &str, &str); 3] = [
    ("rapid-riders", "Rapid Riders", "+15550100001"),
    ("cargo-bikes", "Cargo Bikes", "+15550100002"),
    ("night-owl", "Night Owl Couriers", "+15550100003"),
];

fn invalid(what: &str) -> PortError {
    PortError::Permanent(format!("invalid demo data: {what}"))
}

/// What the first start found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seed {
    /// The data dir was empty: the demo catalog and carriers were written.
    Seeded,
    /// Data was there already: kept as it is.
    Kept,
}

/// Seeds the demo data unless the store already holds carriers (not a first start).
pub async fn seed_if_empty(store: &DynamoStore) -> Result<Seed, PortError> {
    if !Carriers::list(store).await?.is_empty() {
        return Ok(Seed::Kept);
    }
    for (id, company, name, description, minor, stock) in PRODUCTS {
        let product = Product {
            id: ProductId::parse(id).map_err(|_| invalid(id))?,
            company_id: CompanyId::parse(company).map_err(|_| invalid(company))?,
            name: name.to_owned(),
            description: description.to_owned(),
            price: Money::from_minor(minor, Currency::Usd),
            stock,
            available: true,
            stock_shards: 1,
            version: 1,
            updated_at: Utc::now(),
        };
        match store.save(&product, None).await {
            Ok(()) | Err(PortError::Conflict) => {}
            Err(e) => return Err(e),
        }
    }
    for (id, name, phone) in CARRIERS {
        let carrier = Carrier {
            id: CarrierId::parse(id).map_err(|_| invalid(id))?,
            name: name.to_owned(),
            phone: Phone::parse(phone).map_err(|_| invalid(phone))?,
            active: true,
        };
        store.put(&carrier).await?;
    }
    Ok(Seed::Seeded)
}
