-- One database per service (database per service; each service migrates its own schema).
-- Runs once, when the PostgreSQL volume is created.
CREATE DATABASE users;
CREATE DATABASE catalog;
CREATE DATABASE cart;
CREATE DATABASE orders;
