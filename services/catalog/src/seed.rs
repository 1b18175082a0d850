//! The demo catalog seeded on first start with an empty database: a dozen products across
//! four categories, so a fresh platform has something to browse, cart and order.

use crate::domain::NewProduct;

/// (sku, name, description, category, price in minor units, stock)
const DEMO: &[(&str, &str, &str, &str, i64, i64)] = &[
    (
        "BOOK-RUST",
        "The Rust Programming Language",
        "The book, in print.",
        "books",
        3999,
        50,
    ),
    (
        "BOOK-GRPC",
        "gRPC: Up and Running",
        "Building cloud native applications.",
        "books",
        4499,
        30,
    ),
    (
        "BOOK-DDIA",
        "Designing Data-Intensive Applications",
        "Reliable, scalable systems.",
        "books",
        4999,
        40,
    ),
    (
        "KIT-KETTLE",
        "Gooseneck Kettle",
        "1 litre, stainless steel.",
        "kitchen",
        5900,
        25,
    ),
    (
        "KIT-GRINDER",
        "Burr Coffee Grinder",
        "Forty grind settings.",
        "kitchen",
        12900,
        15,
    ),
    (
        "KIT-MUG",
        "Stoneware Mug",
        "350 ml, dishwasher safe.",
        "kitchen",
        1450,
        200,
    ),
    (
        "ELEC-KEYBOARD",
        "Mechanical Keyboard",
        "Tenkeyless, hot-swappable switches.",
        "electronics",
        8999,
        20,
    ),
    (
        "ELEC-HEADSET",
        "Noise-Cancelling Headset",
        "Forty hours of battery.",
        "electronics",
        19900,
        10,
    ),
    (
        "ELEC-CABLE",
        "USB-C Cable",
        "2 metres, 100 W.",
        "electronics",
        1299,
        500,
    ),
    (
        "OUT-TENT",
        "Two-Person Tent",
        "Three-season, 2.1 kg.",
        "outdoor",
        24900,
        8,
    ),
    (
        "OUT-LAMP",
        "Head Lamp",
        "400 lumens, rechargeable.",
        "outdoor",
        3499,
        60,
    ),
    (
        "OUT-BOTTLE",
        "Insulated Bottle",
        "750 ml, keeps cold 24 h.",
        "outdoor",
        2999,
        120,
    ),
];

/// The demo products, priced in `currency`.
pub fn demo_products(currency: &str) -> Vec<NewProduct> {
    DEMO.iter()
        .map(
            |&(sku, name, description, category, price, stock)| NewProduct {
                sku: sku.to_owned(),
                name: name.to_owned(),
                description: description.to_owned(),
                category: category.to_owned(),
                currency: currency.to_owned(),
                price,
                stock,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// At least ten products, in more than one category, with unique SKUs.
    #[test]
    fn demo_is_big_enough() {
        let products = demo_products("USD");
        assert!(products.len() >= 10);
        let categories: HashSet<_> = products.iter().map(|p| &p.category).collect();
        assert!(categories.len() >= 3);
        let skus: HashSet<_> = products.iter().map(|p| &p.sku).collect();
        assert_eq!(skus.len(), products.len());
    }
}
