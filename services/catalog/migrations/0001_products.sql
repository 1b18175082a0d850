-- Products, stock reservations and their lines. Valid on SQLite and PostgreSQL alike:
-- ids are TEXT, amounts and times BIGINT (minor units; microseconds since the epoch).
CREATE TABLE products (
    product_id TEXT PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    currency TEXT NOT NULL,
    price BIGINT NOT NULL CHECK (price >= 0),
    stock BIGINT NOT NULL CHECK (stock >= 0),
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE INDEX products_by_category ON products (category, product_id);

CREATE TABLE reservations (
    reservation_id TEXT PRIMARY KEY,
    released BIGINT NOT NULL DEFAULT 0,
    create_time BIGINT NOT NULL
);

CREATE TABLE reservation_lines (
    reservation_id TEXT NOT NULL REFERENCES reservations (reservation_id),
    line_no BIGINT NOT NULL,
    product_id TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    currency TEXT NOT NULL,
    unit_price BIGINT NOT NULL,
    PRIMARY KEY (reservation_id, line_no)
);
