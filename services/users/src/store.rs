//! The users table on sqlx `Any` (SQLite or PostgreSQL, one code path).

use shop_common::{Db, db::is_unique_violation, time::now_micros};

use crate::Error;

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    /// The id.
    pub user_id: String,
    /// The email as registered.
    pub email: String,
    /// The display name.
    pub display_name: String,
    /// "customer" or "admin".
    pub role: String,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// Creation time, microseconds since the epoch.
    pub create_time: i64,
}

/// An account to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser<'a> {
    /// The email as given.
    pub email: &'a str,
    /// The lower-cased email.
    pub email_key: &'a str,
    /// The display name.
    pub display_name: &'a str,
    /// "customer" or "admin".
    pub role: &'a str,
    /// The argon2id PHC string.
    pub password_hash: &'a str,
}

const COLUMNS: &str = "user_id, email, display_name, role, password_hash, create_time";

/// The users table.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    /// A store over a migrated database.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Inserts an account; `Ok(None)` when the email (case-insensitively) is taken.
    pub async fn insert(&self, user: &NewUser<'_>) -> Result<Option<UserRow>, Error> {
        let row = UserRow {
            user_id: uuid::Uuid::now_v7().simple().to_string(),
            email: user.email.to_owned(),
            display_name: user.display_name.to_owned(),
            role: user.role.to_owned(),
            password_hash: user.password_hash.to_owned(),
            create_time: now_micros(),
        };
        let inserted = sqlx::query(
            "INSERT INTO users (user_id, email, email_key, display_name, role, password_hash, \
             create_time) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&row.user_id)
        .bind(&row.email)
        .bind(user.email_key)
        .bind(&row.display_name)
        .bind(&row.role)
        .bind(&row.password_hash)
        .bind(row.create_time)
        .execute(self.db.pool())
        .await;
        // The row is known without reading it back, so a committed insert never fails the call.
        match inserted {
            Ok(_) => Ok(Some(row)),
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The account with this id.
    pub async fn by_id(&self, user_id: &str) -> Result<Option<UserRow>, Error> {
        Ok(
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE user_id = $1"))
                .bind(user_id)
                .fetch_optional(self.db.pool())
                .await?,
        )
    }

    /// The account with this lower-cased email.
    pub async fn by_email_key(&self, email_key: &str) -> Result<Option<UserRow>, Error> {
        Ok(
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE email_key = $1"))
                .bind(email_key)
                .fetch_optional(self.db.pool())
                .await?,
        )
    }
}
