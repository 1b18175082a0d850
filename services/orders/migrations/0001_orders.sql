-- Orders and their lines. Valid on SQLite and PostgreSQL alike: ids and states are TEXT,
-- amounts and times BIGINT (minor units; microseconds since the epoch).
CREATE TABLE orders (
    order_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    total BIGINT NOT NULL,
    -- 1 once the order's stock reservation is known to be released (or never made) after
    -- the order was cancelled or failed; the sweeper retries releases until then.
    stock_released BIGINT NOT NULL DEFAULT 0,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    CONSTRAINT orders_request_once UNIQUE (user_id, request_id)
);

CREATE INDEX orders_by_user ON orders (user_id, create_time, order_id);
CREATE INDEX orders_by_status ON orders (status, update_time);

CREATE TABLE order_lines (
    order_id TEXT NOT NULL REFERENCES orders (order_id),
    line_no BIGINT NOT NULL,
    product_id TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    unit_price BIGINT NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (order_id, line_no)
);
