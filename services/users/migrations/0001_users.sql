-- User accounts. `email_key` is the lower-cased email: unique, so emails are unique
-- case-insensitively on SQLite and PostgreSQL alike.
CREATE TABLE users (
    user_id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    create_time BIGINT NOT NULL
);
