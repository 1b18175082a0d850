//! Validated catalog requests: parse once at the edge, then trust the types.

use std::collections::HashSet;

use protomesh::contracts::shop::{
    catalog::v1::{
        CreateProductRequest, ListProductsRequest, ReserveStockRequest, UpdateProductPriceRequest,
    },
    common::v1::Money,
};
use shop_common::{Violations, page};

/// The longest product id, SKU or category.
pub const MAX_ID_LEN: usize = 64;
/// The longest reservation id.
pub const MAX_RESERVATION_ID_LEN: usize = 128;
/// The longest product name.
pub const MAX_NAME_LEN: usize = 200;
/// The longest description.
pub const MAX_DESCRIPTION_LEN: usize = 2000;
/// The highest unit price, in minor units (ten billion in major units).
pub const MAX_PRICE: i64 = 1_000_000_000_000;
/// The most units a product may hold in stock.
pub const MAX_STOCK: i64 = 1_000_000_000;
/// The most units one reservation line may ask for.
pub const MAX_LINE_QUANTITY: i64 = 1_000_000;
/// The most lines one reservation may hold.
pub const MAX_LINES: usize = 100;
/// The kind tag of the catalog's page tokens.
const PAGE_KIND: &str = "products";

/// A product to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    /// The unique SKU.
    pub sku: String,
    /// The display name.
    pub name: String,
    /// The description (may be empty).
    pub description: String,
    /// The category.
    pub category: String,
    /// The currency of the price.
    pub currency: String,
    /// The unit price in minor units.
    pub price: i64,
    /// The units in stock.
    pub stock: i64,
}

impl NewProduct {
    /// Validates a create request; prices must be in `currency`.
    pub fn parse(request: CreateProductRequest, currency: &str) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let sku = v.id("sku", &request.sku, MAX_ID_LEN);
        let name = v.required_text("name", &request.name, MAX_NAME_LEN);
        let description = v.optional_text("description", &request.description, MAX_DESCRIPTION_LEN);
        let category = v.required_text("category", &request.category, MAX_ID_LEN);
        let price = price(&mut v, request.price.as_ref(), currency);
        if !(0..=MAX_STOCK).contains(&request.stock) {
            v.add("stock", format!("must be 0 to {MAX_STOCK}"));
        }
        v.into_result(NewProduct {
            sku,
            name,
            description,
            category,
            currency: currency.to_owned(),
            price,
            stock: request.stock,
        })
    }
}

/// Validates a price: set, in `currency`, 0 to [`MAX_PRICE`] minor units.
fn price(v: &mut Violations, money: Option<&Money>, currency: &str) -> i64 {
    let Some(money) = money else {
        v.add("price", "must be set");
        return 0;
    };
    if money.currency_code != currency {
        v.add(
            "price.currency_code",
            format!("must be {currency}, the catalog's currency"),
        );
    }
    if !(0..=MAX_PRICE).contains(&money.minor_units) {
        v.add("price.minor_units", format!("must be 0 to {MAX_PRICE}"));
    }
    money.minor_units
}

/// Validates a product id field.
pub fn product_id(field: &str, id: &str) -> Result<String, Violations> {
    let mut v = Violations::new();
    let id = v.id(field, id, MAX_ID_LEN);
    v.into_result(id)
}

/// A price change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceChange {
    /// The product.
    pub product_id: String,
    /// The currency the price is in.
    pub currency: String,
    /// The new unit price in minor units.
    pub price: i64,
}

impl PriceChange {
    /// Validates an update-price request against the catalog's `currency`.
    pub fn parse(request: UpdateProductPriceRequest, currency: &str) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let product_id = v.id("product_id", &request.product_id, MAX_ID_LEN);
        let price = price(&mut v, request.price.as_ref(), currency);
        v.into_result(PriceChange {
            product_id,
            currency: currency.to_owned(),
            price,
        })
    }
}

/// One page of the product list to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Only this category, when set.
    pub category: Option<String>,
    /// Products after this id (the last of the previous page).
    pub after: Option<String>,
    /// The page size.
    pub limit: usize,
}

impl ListQuery {
    /// Validates a list request, including its page token.
    pub fn parse(request: &ListProductsRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let limit = page::page_size(&mut v, request.page_size);
        let category = v.optional_text("category", &request.category, MAX_ID_LEN);
        let after = page::decode(&mut v, &request.page_token, PAGE_KIND, 2).and_then(|parts| {
            if parts[0] != category {
                v.add("page_token", "was issued for another category");
                return None;
            }
            Some(parts[1].clone())
        });
        let category = (!category.is_empty()).then_some(category);
        v.into_result(ListQuery {
            category,
            after,
            limit,
        })
    }

    /// The token of the page after the one ending with `last_id`.
    pub fn next_token(&self, last_id: &str) -> String {
        page::encode(
            PAGE_KIND,
            &[self.category.as_deref().unwrap_or(""), last_id],
        )
    }
}

/// One product and quantity to reserve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockLine {
    /// The product.
    pub product_id: String,
    /// The units, 1 or more.
    pub quantity: i64,
}

/// A reservation to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The caller-chosen id.
    pub reservation_id: String,
    /// The lines, each product at most once, in request order.
    pub lines: Vec<StockLine>,
}

impl Reservation {
    /// Validates a reserve request.
    pub fn parse(request: ReserveStockRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let reservation_id = v.id(
            "reservation_id",
            &request.reservation_id,
            MAX_RESERVATION_ID_LEN,
        );
        if request.lines.is_empty() {
            v.add("lines", "must hold at least one line");
        } else if request.lines.len() > MAX_LINES {
            v.add("lines", format!("must hold at most {MAX_LINES} lines"));
        }
        let mut seen = HashSet::new();
        let mut lines = Vec::with_capacity(request.lines.len().min(MAX_LINES));
        for (i, line) in request.lines.into_iter().enumerate().take(MAX_LINES) {
            let field = format!("lines[{i}].product_id");
            let product_id = v.id(&field, &line.product_id, MAX_ID_LEN);
            if !product_id.is_empty() && !seen.insert(product_id.clone()) {
                v.add(field, "names a product already in an earlier line");
            }
            if !(1..=MAX_LINE_QUANTITY).contains(&line.quantity) {
                v.add(
                    format!("lines[{i}].quantity"),
                    format!("must be 1 to {MAX_LINE_QUANTITY}"),
                );
            }
            lines.push(StockLine {
                product_id,
                quantity: line.quantity,
            });
        }
        v.into_result(Reservation {
            reservation_id,
            lines,
        })
    }
}

/// Validates a release request's reservation id.
pub fn reservation_id(id: &str) -> Result<String, Violations> {
    let mut v = Violations::new();
    let id = v.id("reservation_id", id, MAX_RESERVATION_ID_LEN);
    v.into_result(id)
}

#[cfg(test)]
mod tests {
    use protomesh::contracts::shop::catalog::v1::StockLine as Line;

    use super::*;

    fn fields(v: Violations) -> Vec<String> {
        v.fields().iter().map(|(f, _)| f.clone()).collect()
    }

    /// Every bad field of a create request is named, all at once.
    #[test]
    fn create_names_every_bad_field() {
        let bad = CreateProductRequest {
            sku: "has space".into(),
            name: "".into(),
            description: "x".repeat(2001),
            category: " ".into(),
            price: Some(Money {
                currency_code: "EUR".into(),
                minor_units: -1,
            }),
            stock: -5,
        };
        assert_eq!(
            fields(NewProduct::parse(bad, "USD").unwrap_err()),
            [
                "sku",
                "name",
                "description",
                "category",
                "price.currency_code",
                "price.minor_units",
                "stock"
            ]
        );
        let no_price = CreateProductRequest {
            sku: "A".into(),
            name: "A".into(),
            category: "c".into(),
            ..Default::default()
        };
        assert_eq!(
            fields(NewProduct::parse(no_price, "USD").unwrap_err()),
            ["price"]
        );
    }

    /// Reservations reject empty, duplicate and non-positive lines, naming each line.
    #[test]
    fn reservation_lines_are_checked() {
        let line = |p: &str, q| Line {
            product_id: p.into(),
            quantity: q,
        };
        let bad = ReserveStockRequest {
            reservation_id: "".into(),
            lines: vec![line("a", 1), line("a", 0), line("", -3)],
        };
        assert_eq!(
            fields(Reservation::parse(bad).unwrap_err()),
            [
                "reservation_id",
                "lines[1].product_id",
                "lines[1].quantity",
                "lines[2].product_id",
                "lines[2].quantity"
            ]
        );
        let empty = ReserveStockRequest {
            reservation_id: "r".into(),
            lines: vec![],
        };
        assert_eq!(fields(Reservation::parse(empty).unwrap_err()), ["lines"]);
    }

    /// A page token only works for the category it was made for.
    #[test]
    fn page_token_is_bound_to_category() {
        let first = ListQuery::parse(&ListProductsRequest {
            category: "books".into(),
            ..Default::default()
        })
        .unwrap();
        let token = first.next_token("p1");
        let next = ListQuery::parse(&ListProductsRequest {
            category: "books".into(),
            page_token: token.clone(),
            page_size: 5,
        })
        .unwrap();
        assert_eq!(next.after.as_deref(), Some("p1"));
        assert_eq!(next.limit, 5);
        let other = ListQuery::parse(&ListProductsRequest {
            category: "games".into(),
            page_token: token,
            page_size: 0,
        });
        assert_eq!(fields(other.unwrap_err()), ["page_token"]);
    }
}
