-- Runs once, when the database container starts with an empty data directory
-- (the postgres image runs every *.sql file in /docker-entrypoint-initdb.d/).
CREATE TABLE items (
    id        serial PRIMARY KEY,
    name      text NOT NULL,
    stored_by text NOT NULL
);
