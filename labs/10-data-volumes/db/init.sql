-- Runs once, when the database starts with an empty data directory.
CREATE TABLE notes (
    id   serial PRIMARY KEY,
    text text NOT NULL
);
