-- shopfront schema (sitrep sandbox). Idempotent.
CREATE TABLE IF NOT EXISTS products (
    id          integer PRIMARY KEY,
    name        text    NOT NULL,
    price_cents bigint  NOT NULL,
    stock       bigint  NOT NULL,
    sold        bigint  NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS orders (
    id          bigserial   PRIMARY KEY,
    product_id  integer     NOT NULL REFERENCES products (id),
    quantity    integer     NOT NULL,
    total_cents bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_created_at ON orders (created_at);
CREATE TABLE IF NOT EXISTS order_stats (
    id            bigserial   PRIMARY KEY,
    computed_at   timestamptz NOT NULL DEFAULT now(),
    orders        bigint      NOT NULL,
    revenue_cents bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS order_stats_computed_at ON order_stats (computed_at);
INSERT INTO products (id, name, price_cents, stock) VALUES
    (1, 'espresso cup',       1200, 1000000000),
    (2, 'pour-over kettle',   4500, 1000000000),
    (3, 'burr grinder',      12900, 1000000000),
    (4, 'bag of beans (1kg)', 2600, 1000000000),
    (5, 'milk jug',           1900, 1000000000)
ON CONFLICT (id) DO NOTHING;
