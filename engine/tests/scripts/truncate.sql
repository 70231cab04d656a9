# TRUNCATE, and DELETE without WHERE: every row of the table goes, deleted by key
# without reading the rows; the table, its definition and its indexes stay.
> CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT UNIQUE, n INTEGER)
ok CREATE TABLE 0

> CREATE INDEX t_n ON t (n)
ok CREATE INDEX 0

> INSERT INTO t VALUES (1, 'a@x', 10), (2, 'b@x', 20), (3, 'c@x', 30)
ok INSERT 3

> CREATE TABLE u (k TEXT PRIMARY KEY)
ok CREATE TABLE 0

> INSERT INTO u VALUES ('p'), ('q')
ok INSERT 2

> EXPLAIN TRUNCATE t, u
plan
Truncate t, u
(1 rows)

> EXPLAIN DELETE FROM t
plan
Delete every row of t (by key)
(1 rows)

> TRUNCATE t, u
ok TRUNCATE TABLE 0

> SELECT count(*) FROM t
count(*)
0
(1 rows)

> SELECT count(*) FROM u
count(*)
0
(1 rows)

# The indexes were emptied too: the unique value is free again, and a lookup through
# either index finds only the new row.
> INSERT INTO t VALUES (4, 'a@x', 10)
ok INSERT 1

> SELECT id FROM t WHERE email = 'a@x'
id
4
(1 rows)

> SELECT id FROM t WHERE n = 10
id
4
(1 rows)

# DELETE without WHERE reports how many rows it deleted.
> INSERT INTO t VALUES (5, 'e@x', 50)
ok INSERT 1

> DELETE FROM t
ok DELETE 2

> DELETE FROM t
ok DELETE 0

> SELECT count(*) FROM t WHERE n = 10
count(*)
0
(1 rows)

# Inside a transaction TRUNCATE is one of its writes: it sees the transaction's own
# rows, and ROLLBACK brings every row back.
> INSERT INTO t VALUES (5, 'e@x', 50), (6, 'f@x', 60)
ok INSERT 2

> BEGIN
ok BEGIN 0

> INSERT INTO t VALUES (7, 'g@x', 70)
ok INSERT 1

> TRUNCATE TABLE t
ok TRUNCATE TABLE 0

> SELECT count(*) FROM t
count(*)
0
(1 rows)

> ROLLBACK
ok ROLLBACK 0

> SELECT id FROM t ORDER BY id
id
5
6
(2 rows)

> BEGIN
ok BEGIN 0

> INSERT INTO t VALUES (8, 'h@x', 80)
ok INSERT 1

> DELETE FROM t
ok DELETE 3

> COMMIT
ok COMMIT 0

> SELECT count(*) FROM t
count(*)
0
(1 rows)

# Against a concurrent transaction: one that changed a row the TRUNCATE deleted fails
# at its commit (as it would against a DELETE of that row); one that only added a row
# keeps it.
> INSERT INTO t VALUES (1, 'a@x', 10), (2, 'b@x', 20)
ok INSERT 2

> @other BEGIN
ok BEGIN 0

> @other UPDATE t SET n = 11 WHERE id = 1
ok UPDATE 1

> TRUNCATE t
ok TRUNCATE TABLE 0

> @other COMMIT
error 40001: serialization conflict: a concurrent transaction wrote the same rows; retry the transaction

> SELECT count(*) FROM t
count(*)
0
(1 rows)

> @other BEGIN
ok BEGIN 0

> @other INSERT INTO t VALUES (9, 'i@x', 90)
ok INSERT 1

> TRUNCATE t
ok TRUNCATE TABLE 0

> @other COMMIT
ok COMMIT 0

> SELECT id, email FROM t
id | email
9 | i@x
(1 rows)

> SELECT id FROM t WHERE email = 'i@x'
id
9
(1 rows)

# What it does not do.
> TRUNCATE missing
error 42P01: no such table: missing

> TRUNCATE t RESTART IDENTITY
error 0A000: not supported: TRUNCATE ... RESTART IDENTITY (generated ids continue after a TRUNCATE)

> TRUNCATE t CASCADE
error 0A000: not supported: TRUNCATE ... CASCADE (kvsql has no foreign keys)

> CREATE VIEW v AS SELECT id FROM t
ok CREATE VIEW 0

> TRUNCATE v
error 42P01: no such table: v

> DELETE FROM v
error 42P01: no such table: v

> SELECT id FROM t
id
9
(1 rows)

