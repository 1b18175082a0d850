-- A table for the database tests of shop-common.
CREATE TABLE things (id TEXT PRIMARY KEY);
