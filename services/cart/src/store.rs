//! Cart lines on sqlx `Any` (SQLite or PostgreSQL, one code path).

use shop_common::{Db, time::now_micros};

use crate::{
    Error,
    domain::{Addition, MAX_ITEMS, MAX_LINE_QUANTITY},
};

/// One stored cart line.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LineRow {
    /// The product.
    pub product_id: String,
    /// The units.
    pub quantity: i64,
}

/// The cart lines of every user.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    /// A store over a migrated database.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// A user's lines in the order they were first added.
    pub async fn lines(&self, user_id: &str) -> Result<Vec<LineRow>, Error> {
        Ok(sqlx::query_as(
            "SELECT product_id, quantity FROM cart_items WHERE user_id = $1 \
             ORDER BY added_time, product_id",
        )
        .bind(user_id)
        .fetch_all(self.db.pool())
        .await?)
    }

    /// Adds units to a user's cart in one transaction: a new line, or more of an existing
    /// one. Refuses, changing nothing, past [`MAX_LINE_QUANTITY`] units or [`MAX_ITEMS`] lines.
    pub async fn add(&self, user_id: &str, addition: &Addition) -> Result<(), Error> {
        let mut tx = self.db.pool().begin().await?;
        let changed = sqlx::query(
            "INSERT INTO cart_items (user_id, product_id, quantity, added_time) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, product_id) DO UPDATE \
             SET quantity = cart_items.quantity + excluded.quantity \
             WHERE cart_items.quantity + excluded.quantity <= $5",
        )
        .bind(user_id)
        .bind(&addition.product_id)
        .bind(addition.quantity)
        .bind(now_micros())
        .bind(MAX_LINE_QUANTITY)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(Error::LineFull(addition.product_id.clone()));
        }
        let (items,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM cart_items WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        if items > MAX_ITEMS {
            return Err(Error::CartFull);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes a product from a user's cart; nothing when it is not there.
    pub async fn remove(&self, user_id: &str, product_id: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM cart_items WHERE user_id = $1 AND product_id = $2")
            .bind(user_id)
            .bind(product_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Removes every line of a user's cart.
    pub async fn empty(&self, user_id: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM cart_items WHERE user_id = $1")
            .bind(user_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}
