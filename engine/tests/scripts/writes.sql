# INSERT, UPDATE, DELETE, constraints and statement atomicity.
> CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL DEFAULT 0, tag TEXT)
ok CREATE TABLE 0

> INSERT INTO t VALUES (1, 'ann', 2.5, 'a'), (2, 'bob', 1, NULL)
ok INSERT 2

> INSERT INTO t (name, id) VALUES ('cy', 3)
ok INSERT 1

> SELECT * FROM t
id | name | score | tag
1 | ann | 2.5 | a
2 | bob | 1.0 | NULL
3 | cy | 0.0 | NULL
(3 rows)

# The third row collides: the first two must not stay behind.
> INSERT INTO t VALUES (10, 'x', 0, NULL), (11, 'y', 0, NULL), (1, 'dup', 0, NULL)
error 23505: duplicate key in table t violates primary key: (id) = (1) already exists

> INSERT INTO t VALUES (12, 'x', 0, NULL), (12, 'y', 0, NULL)
error 23505: duplicate key in table t violates primary key: (id) = (12) already exists

# Of two keys listed twice, the one whose second row comes first is reported.
> INSERT INTO t VALUES (20, 'x', 0, NULL), (21, 'y', 0, NULL), (21, 'z', 0, NULL), (20, 'w', 0, NULL)
error 23505: duplicate key in table t violates primary key: (id) = (21) already exists

# Rows are judged in order: the first bad row's error is reported, whatever is wrong
# with the rows after it.
> INSERT INTO t VALUES (13, 'x', 0, NULL), (2, 'dup', 0, NULL), (14, NULL, 0, NULL)
error 23505: duplicate key in table t violates primary key: (id) = (2) already exists

> INSERT INTO t VALUES (13, 'x', 0, NULL), (14, NULL, 0, NULL), (2, 'dup', 0, NULL)
error 23502: column "name" of table t cannot be NULL

> INSERT INTO t VALUES (15, 'x', 0, NULL), (16, 'y', 0, NULL), (17, 'z', 0, NULL), (16, 'again', 0, NULL), (3, 'stored', 0, NULL)
error 23505: duplicate key in table t violates primary key: (id) = (16) already exists

> SELECT count FROM t WHERE id >= 10
error 42703: column "count" does not exist in table t

> SELECT id FROM t WHERE id >= 10
id
(0 rows)

> INSERT INTO t (id) VALUES (20)
error 23502: column "name" of table t cannot be NULL

> INSERT INTO t VALUES (21, 'z', 'high', NULL)
error 42804: column "score" is REAL but the value 'high' is TEXT

> INSERT INTO t VALUES (22, 'z')
error 42P16: row 1 of INSERT has 2 values for 4 columns

> INSERT INTO t (id, nope) VALUES (1, 2)
error 42703: column "nope" does not exist in table t

> INSERT INTO t VALUES (9223372036854775807 + 1, 'z', 0, NULL)
error 22003: integer overflow

> INSERT INTO nope VALUES (1)
error 42P01: no such table: nope

> UPDATE t SET score = score + 1, tag = 'u' WHERE id <= 2
ok UPDATE 2

> SELECT id, score, tag FROM t
id | score | tag
1 | 3.5 | u
2 | 2.0 | u
3 | 0.0 | NULL
(3 rows)

# Key updates are judged on the statement's end state.
> UPDATE t SET id = id + 1
ok UPDATE 3

> SELECT id, name FROM t
id | name
2 | ann
3 | bob
4 | cy
(3 rows)

> UPDATE t SET id = 2 WHERE id = 4
error 23505: duplicate key in table t violates primary key: (id) = (2) already exists

> UPDATE t SET name = NULL WHERE id = 2
error 23502: column "name" of table t cannot be NULL

> UPDATE t SET nope = 1
error 42703: column "nope" does not exist in table t

> SELECT id, name FROM t
id | name
2 | ann
3 | bob
4 | cy
(3 rows)

> DELETE FROM t WHERE name = 'bob'
ok DELETE 1

> DELETE FROM t WHERE id = 99
ok DELETE 0

> SELECT id FROM t
id
2
4
(2 rows)

> DELETE FROM t
ok DELETE 2

> SELECT * FROM t
id | name | score | tag
(0 rows)

# Tables without a primary key get hidden row ids; duplicates are fine.
> CREATE TABLE events (kind TEXT, n INTEGER)
ok CREATE TABLE 0

> INSERT INTO events VALUES ('a', 1), ('a', 1), ('b', 2)
ok INSERT 3

> UPDATE events SET n = n * 10 WHERE kind = 'a'
ok UPDATE 2

> DELETE FROM events WHERE kind = 'b'
ok DELETE 1

> INSERT INTO events VALUES ('c', 3)
ok INSERT 1

> SELECT * FROM events
kind | n
a | 10
a | 10
c | 3
(3 rows)

# Composite keys.
> CREATE TABLE pairs (a INTEGER, b TEXT, v BLOB, PRIMARY KEY (a, b))
ok CREATE TABLE 0

> INSERT INTO pairs VALUES (1, 'b', X'00FF'), (1, 'a', NULL), (0, 'z', X'')
ok INSERT 3

> INSERT INTO pairs VALUES (1, 'a', NULL)
error 23505: duplicate key in table pairs violates primary key: (a, b) = (1, 'a') already exists

> SELECT * FROM pairs
a | b | v
0 | z | X''
1 | a | NULL
1 | b | X'00FF'
(3 rows)

> CREATE TABLE flags (id INTEGER PRIMARY KEY, on_off BOOLEAN, r REAL)
ok CREATE TABLE 0

> INSERT INTO flags VALUES (1, TRUE, 1), (2, 0, -0.5), (3, NULL, 1e308 * 10)
error 22023: column "r" cannot store the non-finite value inf

> INSERT INTO flags VALUES (1, TRUE, 1), (2, 0, -0.5)
ok INSERT 2

> SELECT * FROM flags WHERE on_off = FALSE OR r > 0
id | on_off | r
1 | TRUE | 1.0
2 | FALSE | -0.5
(2 rows)

> SELECT 1e301, 1.0 / 3, 0.00001
1e301 | 1.0 / 3 | 0.00001
1.0e+301 | 0.333333333333333 | 1.0e-05
(1 rows)

