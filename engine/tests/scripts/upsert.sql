# INSERT ... ON CONFLICT on the primary key.
> CREATE TABLE stock (item TEXT PRIMARY KEY, qty INTEGER NOT NULL, note TEXT)
ok CREATE TABLE 0

> INSERT INTO stock VALUES ('apple', 5, NULL), ('pear', 1, 'ripe')
ok INSERT 2

> INSERT INTO stock VALUES ('apple', 100, 'ignored'), ('plum', 7, NULL) ON CONFLICT DO NOTHING
ok INSERT 1

> INSERT INTO stock VALUES ('apple', 3, 'restock') ON CONFLICT (item) DO UPDATE SET qty = qty + excluded.qty, note = excluded.note RETURNING *
item | qty | note
apple | 8 | restock
(1 rows)

# The WHERE of DO UPDATE decides per row; rows it rejects are skipped, not inserted.
> INSERT INTO stock VALUES ('pear', 10, NULL), ('fig', 2, NULL) ON CONFLICT (item) DO UPDATE SET qty = excluded.qty WHERE stock.note IS NULL
ok INSERT 1

> SELECT * FROM stock
item | qty | note
apple | 8 | restock
fig | 2 | NULL
pear | 1 | ripe
plum | 7 | NULL
(4 rows)

> INSERT INTO stock VALUES ('fig', NULL, NULL) ON CONFLICT (item) DO UPDATE SET qty = excluded.qty
error 23502: column "qty" of table stock cannot be NULL

> INSERT INTO stock VALUES ('fig', 1, NULL) ON CONFLICT (qty) DO NOTHING
error 42P16: ON CONFLICT (qty) names neither the primary key nor a unique index of stock

> INSERT INTO stock VALUES ('fig', 1, NULL) ON CONFLICT DO UPDATE SET qty = 1
error 42P16: ON CONFLICT DO UPDATE needs a conflict target, e.g. ON CONFLICT (id)

> INSERT INTO stock VALUES ('fig', 1, NULL) ON CONFLICT (item) DO UPDATE SET item = 'x'
error 0A000: not supported: changing the primary key in ON CONFLICT DO UPDATE

> INSERT INTO stock VALUES ('fig', 1, NULL) ON CONFLICT (item) DO UPDATE SET qty = excluded.nope
error 42703: column "nope" does not exist in excluded

> CREATE TABLE heap (x INTEGER)
ok CREATE TABLE 0

> INSERT INTO heap VALUES (1) ON CONFLICT DO NOTHING
ok INSERT 1

> INSERT INTO stock VALUES ('kiwi', 1, NULL) ON DUPLICATE KEY UPDATE qty = 2
error 0A000: not supported: ON DUPLICATE KEY UPDATE (use ON CONFLICT ... DO UPDATE)

