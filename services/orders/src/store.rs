//! Orders and their lines on sqlx `Any` (SQLite or PostgreSQL, one code path).
//!
//! Every state change is a conditional `UPDATE ... WHERE status = <from>`, so two processes
//! (or a placement and the sweeper) never both move one order, and the unique constraint on
//! (user_id, request_id) makes a create happen at most once per request id.

use shop_common::{Db, db::is_unique_violation, time::now_micros};

use crate::{
    Error,
    domain::{Cursor, ListQuery, Status},
};

/// A stored order row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderRow {
    /// The id.
    pub order_id: String,
    /// The owner.
    pub user_id: String,
    /// The client's request id.
    pub request_id: String,
    /// The stored state name.
    pub status: String,
    /// The currency of the prices.
    pub currency: String,
    /// The total in minor units.
    pub total: i64,
    /// 1 once a cancelled or failed order's stock is known to be back.
    pub stock_released: i64,
    /// Creation time, microseconds since the epoch.
    pub create_time: i64,
    /// Last state change, microseconds since the epoch.
    pub update_time: i64,
}

/// A stored order line.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LineRow {
    /// The product.
    pub product_id: String,
    /// The product's name when ordered.
    pub name: String,
    /// The units.
    pub quantity: i64,
    /// The unit price in minor units when ordered.
    pub unit_price: i64,
}

/// An order with its lines and parsed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    /// The row.
    pub row: OrderRow,
    /// The lines, in order.
    pub lines: Vec<LineRow>,
    /// The state.
    pub status: Status,
}

/// The result of claiming a request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// A new PENDING order now holds the request id.
    New,
    /// The request id already made this order.
    Existing(StoredOrder),
}

const COLUMNS: &str = "order_id, user_id, request_id, status, currency, total, stock_released, \
                       create_time, update_time";

/// The orders tables.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    /// A store over a migrated database.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Inserts a PENDING order holding (user, request id), or finds the order that holds it.
    pub async fn claim(
        &self,
        order_id: &str,
        user_id: &str,
        request_id: &str,
        currency: &str,
    ) -> Result<Claim, Error> {
        let now = now_micros();
        let inserted = sqlx::query(
            "INSERT INTO orders (order_id, user_id, request_id, status, currency, total, \
             stock_released, create_time, update_time) VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $6)",
        )
        .bind(order_id)
        .bind(user_id)
        .bind(request_id)
        .bind(Status::Pending.as_str())
        .bind(currency)
        .bind(now)
        .execute(self.db.pool())
        .await;
        match inserted {
            Ok(_) => Ok(Claim::New),
            Err(e) if is_unique_violation(&e) => {
                match self.by_request(user_id, request_id).await? {
                    Some(order) => Ok(Claim::Existing(order)),
                    // The holder was discarded in between: the id is free again, but let the
                    // client retry rather than loop here.
                    None => Err(Error::InProgress(request_id.to_owned())),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The order a user's request id made.
    pub async fn by_request(
        &self,
        user_id: &str,
        request_id: &str,
    ) -> Result<Option<StoredOrder>, Error> {
        let row: Option<OrderRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM orders WHERE user_id = $1 AND request_id = $2"
        ))
        .bind(user_id)
        .bind(request_id)
        .fetch_optional(self.db.pool())
        .await?;
        self.with_lines(row).await
    }

    /// One order, by id alone.
    pub async fn get(&self, order_id: &str) -> Result<Option<StoredOrder>, Error> {
        let row: Option<OrderRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM orders WHERE order_id = $1"))
                .bind(order_id)
                .fetch_optional(self.db.pool())
                .await?;
        self.with_lines(row).await
    }

    /// One of `user_id`'s orders; `None` for another user's.
    pub async fn get_for(
        &self,
        order_id: &str,
        user_id: &str,
    ) -> Result<Option<StoredOrder>, Error> {
        Ok(self
            .get(order_id)
            .await?
            .filter(|order| order.row.user_id == user_id))
    }

    /// Records a PENDING order's priced lines and total, in one transaction.
    pub async fn fill(&self, order_id: &str, lines: &[LineRow], total: i64) -> Result<(), Error> {
        let mut tx = self.db.pool().begin().await?;
        let updated = sqlx::query(
            "UPDATE orders SET total = $1, update_time = $2 WHERE order_id = $3 AND status = $4",
        )
        .bind(total)
        .bind(now_micros())
        .bind(order_id)
        .bind(Status::Pending.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(Error::Internal(
                "a pending order changed while being placed",
            ));
        }
        for (line_no, line) in lines.iter().enumerate() {
            sqlx::query(
                "INSERT INTO order_lines (order_id, line_no, product_id, name, quantity, \
                 unit_price) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(order_id)
            .bind(i64::try_from(line_no).unwrap_or(i64::MAX))
            .bind(&line.product_id)
            .bind(&line.name)
            .bind(line.quantity)
            .bind(line.unit_price)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Moves an order `from -> to` if it is still in `from`; `false` when it was not.
    pub async fn transition(
        &self,
        order_id: &str,
        from: Status,
        to: Status,
    ) -> Result<bool, Error> {
        if !from.can_become(to) {
            return Err(Error::Internal("a transition the state machine forbids"));
        }
        let updated = sqlx::query(
            "UPDATE orders SET status = $1, update_time = $2 WHERE order_id = $3 AND status = $4",
        )
        .bind(to.as_str())
        .bind(now_micros())
        .bind(order_id)
        .bind(from.as_str())
        .execute(self.db.pool())
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Deletes a PENDING order and its lines (a placement that failed and was compensated),
    /// freeing its request id. `false` when the order was no longer PENDING.
    pub async fn discard(&self, order_id: &str) -> Result<bool, Error> {
        let mut tx = self.db.pool().begin().await?;
        // Lines first: they reference the order.
        sqlx::query(
            "DELETE FROM order_lines WHERE order_id IN \
             (SELECT order_id FROM orders WHERE order_id = $1 AND status = $2)",
        )
        .bind(order_id)
        .bind(Status::Pending.as_str())
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM orders WHERE order_id = $1 AND status = $2")
            .bind(order_id)
            .bind(Status::Pending.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records that a cancelled or failed order's stock is back.
    pub async fn mark_released(&self, order_id: &str) -> Result<(), Error> {
        sqlx::query("UPDATE orders SET stock_released = 1 WHERE order_id = $1")
            .bind(order_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// PENDING orders last changed before `before` (microseconds since the epoch).
    pub async fn stale_pending(&self, before: i64) -> Result<Vec<String>, Error> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT order_id FROM orders WHERE status = $1 AND update_time < $2 ORDER BY order_id",
        )
        .bind(Status::Pending.as_str())
        .bind(before)
        .fetch_all(self.db.pool())
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// Cancelled or failed orders whose stock is not known to be back, with the time of
    /// their last state change.
    pub async fn unreleased(&self) -> Result<Vec<(String, i64)>, Error> {
        Ok(sqlx::query_as(
            "SELECT order_id, update_time FROM orders WHERE status IN ($1, $2) \
             AND stock_released = 0 ORDER BY order_id",
        )
        .bind(Status::Cancelled.as_str())
        .bind(Status::Failed.as_str())
        .fetch_all(self.db.pool())
        .await?)
    }

    /// One page of a user's orders, newest first, plus whether more follow.
    pub async fn list(&self, query: &ListQuery) -> Result<(Vec<StoredOrder>, bool), Error> {
        let fetch = i64::try_from(query.limit + 1).unwrap_or(i64::MAX);
        let (time, id) = match &query.after {
            Some(Cursor {
                create_time,
                order_id,
            }) => (*create_time, order_id.as_str()),
            None => (i64::MAX, ""),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM orders WHERE user_id = $1 \
             AND (create_time < $2 OR (create_time = $2 AND order_id < $3)) \
             ORDER BY create_time DESC, order_id DESC LIMIT $4"
        );
        // On the first page every order qualifies: create_time < i64::MAX.
        let mut rows: Vec<OrderRow> = sqlx::query_as(&sql)
            .bind(&query.user_id)
            .bind(time)
            .bind(id)
            .bind(fetch)
            .fetch_all(self.db.pool())
            .await?;
        let more = rows.len() > query.limit;
        rows.truncate(query.limit);
        let mut orders = Vec::with_capacity(rows.len());
        for row in rows {
            orders.extend(self.with_lines(Some(row)).await?);
        }
        Ok((orders, more))
    }

    /// The row with its lines and parsed state.
    async fn with_lines(&self, row: Option<OrderRow>) -> Result<Option<StoredOrder>, Error> {
        let Some(row) = row else {
            return Ok(None);
        };
        let status =
            Status::parse(&row.status).ok_or(Error::Internal("an unknown stored order state"))?;
        let lines = sqlx::query_as(
            "SELECT product_id, name, quantity, unit_price FROM order_lines \
             WHERE order_id = $1 ORDER BY line_no",
        )
        .bind(&row.order_id)
        .fetch_all(self.db.pool())
        .await?;
        Ok(Some(StoredOrder { row, lines, status }))
    }
}
