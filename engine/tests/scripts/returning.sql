# RETURNING on INSERT, UPDATE and DELETE.
> CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER DEFAULT 0)
ok CREATE TABLE 0

> INSERT INTO t (name) VALUES ('a'), ('b') RETURNING id, name, n
id | name | n
1 | a | 0
2 | b | 0
(2 rows)

> INSERT INTO t VALUES (10, 'c', 5) RETURNING *
id | name | n
10 | c | 5
(1 rows)

> UPDATE t SET n = n + 1 WHERE id <= 2 RETURNING id, n AS new_n, n * 10
id | new_n | n * 10
1 | 1 | 10
2 | 1 | 10
(2 rows)

> UPDATE t SET id = id + 100 WHERE id = 10 RETURNING id
id
110
(1 rows)

> DELETE FROM t WHERE n = 1 RETURNING name
name
a
b
(2 rows)

> DELETE FROM t WHERE id = 999 RETURNING id
id
(0 rows)

> SELECT * FROM t
id | name | n
110 | c | 5
(1 rows)

> INSERT INTO t VALUES (5, 'x', 0) RETURNING nope
error 42703: column "nope" does not exist in table t

> SELECT id FROM t WHERE id = 5
id
(0 rows)

