//! The catalog's storage on sqlx `Any` (SQLite or PostgreSQL, one code path).
//!
//! Stock reservation is one transaction: it claims the reservation id first (so a retry
//! reserves nothing twice), then takes each line's units with a conditional
//! `UPDATE ... SET stock = stock - q WHERE stock >= q`. A line that matches no row rolls the
//! whole transaction back, so stock never goes below zero and no partial reservation stays.
//! Lines are updated in product id order so that two reservations never deadlock.

use shop_common::{Db, db::is_unique_violation, time::now_micros};
use sqlx::{Any, Transaction};

use crate::{
    Error,
    domain::{ListQuery, NewProduct, PriceChange, Reservation},
};

/// A stored product.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProductRow {
    /// The id.
    pub product_id: String,
    /// The SKU.
    pub sku: String,
    /// The display name.
    pub name: String,
    /// The description.
    pub description: String,
    /// The category.
    pub category: String,
    /// The currency of the price.
    pub currency: String,
    /// The unit price in minor units.
    pub price: i64,
    /// Units in stock and not reserved.
    pub stock: i64,
    /// Creation time, microseconds since the epoch.
    pub create_time: i64,
    /// Last change, microseconds since the epoch.
    pub update_time: i64,
}

/// A reserved line, priced at reservation time.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReservedLineRow {
    /// The product.
    pub product_id: String,
    /// The product's name at reservation time.
    pub name: String,
    /// The units reserved.
    pub quantity: i64,
    /// The currency of the price.
    pub currency: String,
    /// The unit price in minor units.
    pub unit_price: i64,
}

const PRODUCT_COLUMNS: &str = "product_id, sku, name, description, category, currency, price, \
                               stock, create_time, update_time";

const INSERT_PRODUCT: &str = "INSERT INTO products (product_id, sku, name, description, \
    category, currency, price, stock, create_time, update_time) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)";

/// Binds a new product's values to [`INSERT_PRODUCT`].
fn bind_product<'q>(
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    id: &str,
    product: &NewProduct,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(id.to_owned())
        .bind(product.sku.clone())
        .bind(product.name.clone())
        .bind(product.description.clone())
        .bind(product.category.clone())
        .bind(product.currency.clone())
        .bind(product.price)
        .bind(product.stock)
        .bind(now_micros())
}

/// The catalog's tables.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    /// A store over a migrated database.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// How many products exist.
    pub async fn count(&self) -> Result<i64, Error> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM products")
            .fetch_one(self.db.pool())
            .await?;
        Ok(n)
    }

    /// Creates a product. [`Error::SkuTaken`] when the SKU exists.
    pub async fn create(&self, product: &NewProduct) -> Result<ProductRow, Error> {
        let mut tx = self.db.pool().begin().await?;
        let row = match insert(&mut tx, product).await {
            Ok(row) => row,
            Err(e) if is_unique_violation(&e) => return Err(Error::SkuTaken(product.sku.clone())),
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        Ok(row)
    }

    /// Inserts every product whose SKU is not taken yet, in one transaction; returns how many
    /// were inserted. Safe when two replicas seed at once.
    pub async fn seed(&self, products: &[NewProduct]) -> Result<u64, Error> {
        let mut tx = self.db.pool().begin().await?;
        let mut inserted = 0;
        for product in products {
            inserted += bind_product(
                sqlx::query(&format!("{INSERT_PRODUCT} ON CONFLICT (sku) DO NOTHING")),
                &new_id(),
                product,
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// One product, if it exists.
    pub async fn get(&self, product_id: &str) -> Result<Option<ProductRow>, Error> {
        Ok(sqlx::query_as(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE product_id = $1"
        ))
        .bind(product_id)
        .fetch_optional(self.db.pool())
        .await?)
    }

    /// One page of products in id order, plus whether more follow.
    pub async fn list(&self, query: &ListQuery) -> Result<(Vec<ProductRow>, bool), Error> {
        let after = query.after.as_deref().unwrap_or("");
        let fetch = i64::try_from(query.limit + 1).unwrap_or(i64::MAX);
        let by_category = format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE category = $1 AND product_id > $2 \
             ORDER BY product_id LIMIT $3"
        );
        let all = format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE product_id > $1 \
             ORDER BY product_id LIMIT $2"
        );
        let mut rows: Vec<ProductRow> = match &query.category {
            Some(category) => sqlx::query_as(&by_category)
                .bind(category)
                .bind(after)
                .bind(fetch),
            None => sqlx::query_as(&all).bind(after).bind(fetch),
        }
        .fetch_all(self.db.pool())
        .await?;
        let more = rows.len() > query.limit;
        rows.truncate(query.limit);
        Ok((rows, more))
    }

    /// Sets a product's price. [`Error::NotFound`] for an unknown product.
    pub async fn update_price(&self, change: &PriceChange) -> Result<ProductRow, Error> {
        let mut tx = self.db.pool().begin().await?;
        let updated =
            sqlx::query("UPDATE products SET price = $1, update_time = $2 WHERE product_id = $3")
                .bind(change.price)
                .bind(now_micros())
                .bind(&change.product_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if updated == 0 {
            return Err(Error::NotFound(change.product_id.clone()));
        }
        let row = product_in(&mut tx, &change.product_id).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Reserves every line or none; a repeated reservation id returns the first result.
    pub async fn reserve(&self, reservation: &Reservation) -> Result<Vec<ReservedLineRow>, Error> {
        let mut tx = self.db.pool().begin().await?;
        // Claim the id first: a write, so SQLite takes its write lock before any read.
        let claimed = sqlx::query(
            "INSERT INTO reservations (reservation_id, released, create_time) VALUES ($1, 0, $2) \
             ON CONFLICT (reservation_id) DO NOTHING",
        )
        .bind(&reservation.reservation_id)
        .bind(now_micros())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            let lines = lines_of(&mut tx, &reservation.reservation_id).await?;
            tx.commit().await?;
            return Ok(lines);
        }
        let mut order: Vec<usize> = (0..reservation.lines.len()).collect();
        order.sort_by(|&a, &b| {
            reservation.lines[a]
                .product_id
                .cmp(&reservation.lines[b].product_id)
        });
        for i in order {
            let line = &reservation.lines[i];
            let taken = sqlx::query(
                "UPDATE products SET stock = stock - $1, update_time = $2 \
                 WHERE product_id = $3 AND stock >= $1",
            )
            .bind(line.quantity)
            .bind(now_micros())
            .bind(&line.product_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken == 0 {
                // Dropping the transaction rolls every line back.
                let exists = product_in_opt(&mut tx, &line.product_id).await?.is_some();
                return Err(if exists {
                    Error::OutOfStock {
                        product_id: line.product_id.clone(),
                    }
                } else {
                    Error::NotFound(line.product_id.clone())
                });
            }
        }
        for (line_no, line) in reservation.lines.iter().enumerate() {
            let product = product_in(&mut tx, &line.product_id).await?;
            sqlx::query(
                "INSERT INTO reservation_lines (reservation_id, line_no, product_id, name, \
                 quantity, currency, unit_price) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&reservation.reservation_id)
            .bind(i64::try_from(line_no).unwrap_or(i64::MAX))
            .bind(&line.product_id)
            .bind(&product.name)
            .bind(line.quantity)
            .bind(&product.currency)
            .bind(product.price)
            .execute(&mut *tx)
            .await?;
        }
        let lines = lines_of(&mut tx, &reservation.reservation_id).await?;
        tx.commit().await?;
        Ok(lines)
    }

    /// Returns a reservation's units to stock, once; `false` when there was nothing to return.
    pub async fn release(&self, reservation_id: &str) -> Result<bool, Error> {
        let mut tx = self.db.pool().begin().await?;
        let marked = sqlx::query(
            "UPDATE reservations SET released = 1 WHERE reservation_id = $1 AND released = 0",
        )
        .bind(reservation_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked == 0 {
            return Ok(false);
        }
        let mut lines = lines_of(&mut tx, reservation_id).await?;
        lines.sort_by(|a, b| a.product_id.cmp(&b.product_id));
        for line in lines {
            sqlx::query(
                "UPDATE products SET stock = stock + $1, update_time = $2 WHERE product_id = $3",
            )
            .bind(line.quantity)
            .bind(now_micros())
            .bind(&line.product_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// A new product id: a UUIDv7 in simple form, so id order is creation order.
fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

async fn insert(
    tx: &mut Transaction<'static, Any>,
    product: &NewProduct,
) -> Result<ProductRow, sqlx::Error> {
    let id = new_id();
    bind_product(sqlx::query(INSERT_PRODUCT), &id, product)
        .execute(&mut **tx)
        .await?;
    product_in(tx, &id).await
}

async fn product_in_opt(
    tx: &mut Transaction<'static, Any>,
    product_id: &str,
) -> Result<Option<ProductRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE product_id = $1"
    ))
    .bind(product_id)
    .fetch_optional(&mut **tx)
    .await
}

async fn product_in(
    tx: &mut Transaction<'static, Any>,
    product_id: &str,
) -> Result<ProductRow, sqlx::Error> {
    product_in_opt(tx, product_id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

async fn lines_of(
    tx: &mut Transaction<'static, Any>,
    reservation_id: &str,
) -> Result<Vec<ReservedLineRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT product_id, name, quantity, currency, unit_price FROM reservation_lines \
         WHERE reservation_id = $1 ORDER BY line_no",
    )
    .bind(reservation_id)
    .fetch_all(&mut **tx)
    .await
}
