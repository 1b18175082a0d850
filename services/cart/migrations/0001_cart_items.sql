-- One row per product in a user's cart. Valid on SQLite and PostgreSQL alike.
CREATE TABLE cart_items (
    user_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    added_time BIGINT NOT NULL,
    PRIMARY KEY (user_id, product_id)
);
