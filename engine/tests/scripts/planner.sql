# Access paths: point lookups, range scans, full scans, and ORDER BY in key order.
> CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)
ok CREATE TABLE 0

> CREATE TABLE c (a INTEGER, b TEXT, n INTEGER, PRIMARY KEY (a, b))
ok CREATE TABLE 0

> CREATE TABLE h (x INTEGER)
ok CREATE TABLE 0

> INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')
ok INSERT 5

> INSERT INTO c VALUES (1, 'x', 10), (1, 'y', 11), (2, 'x', 20), (2, 'y', 21), (3, 'x', 30)
ok INSERT 5

> EXPLAIN SELECT v FROM t WHERE id = 3
plan
Project: v
-> Scan t: point lookup on primary key: id = 3
(2 rows)

> SELECT v FROM t WHERE id = 3
v
c
(1 rows)

> EXPLAIN SELECT v FROM t WHERE 3 = id AND v <> 'z'
plan
Project: v
-> Scan t: point lookup on primary key: id = 3, filter: v <> 'z'
(2 rows)

> EXPLAIN SELECT v FROM t WHERE id > 1 AND id <= 4
plan
Project: v
-> Scan t: range scan on primary key: id > 1 AND id <= 4, filter: (id > 1) AND (id <= 4)
(2 rows)

> SELECT v FROM t WHERE id > 1 AND id <= 4
v
b
c
d
(3 rows)

> SELECT v FROM t WHERE id >= 2.5 AND id < 4.5
v
c
d
(2 rows)

> EXPLAIN SELECT v FROM t WHERE id >= 2.5
plan
Project: v
-> Scan t: range scan on primary key: id >= 2, filter: id >= 2.5
(2 rows)

> SELECT v FROM t WHERE id > 2 AND id > 3 AND id < 100
v
d
e
(2 rows)

> EXPLAIN SELECT v FROM t WHERE id = NULL
plan
Project: v
-> Scan t: no rows (the condition is never true)
(2 rows)

> SELECT v FROM t WHERE id = 2.5
v
(0 rows)

> SELECT v FROM t WHERE id = 2.0
v
b
(1 rows)

> EXPLAIN SELECT v FROM t WHERE v = 'c'
plan
Project: v
-> Scan t: full scan, filter: v = 'c'
(2 rows)

> EXPLAIN SELECT v FROM t WHERE id = 1 OR id = 2
plan
Project: v
-> Scan t: full scan, filter: (id = 1) OR (id = 2)
(2 rows)

> EXPLAIN SELECT n FROM c WHERE a = 2 AND b = 'y'
plan
Project: n
-> Scan c: point lookup on primary key: a = 2 AND b = 'y'
(2 rows)

> SELECT n FROM c WHERE a = 2 AND b = 'y'
n
21
(1 rows)

> EXPLAIN SELECT n FROM c WHERE a = 1
plan
Project: n
-> Scan c: range scan on primary key: a = 1
(2 rows)

> SELECT n FROM c WHERE a = 1
n
10
11
(2 rows)

> EXPLAIN SELECT n FROM c WHERE a = 2 AND b >= 'y'
plan
Project: n
-> Scan c: range scan on primary key: a = 2 AND b >= 'y', filter: b >= 'y'
(2 rows)

> SELECT n FROM c WHERE a >= 2
n
20
21
30
(3 rows)

> SELECT n FROM c WHERE a > 1 AND a < 3
n
20
21
(2 rows)

> SELECT n FROM c WHERE b = 'x'
n
10
20
30
(3 rows)

> EXPLAIN SELECT v FROM t ORDER BY id DESC LIMIT 2
plan
Project: v
-> Limit: 2
   -> Scan t: full scan, descending
(3 rows)

> SELECT v FROM t ORDER BY id DESC LIMIT 2
v
e
d
(2 rows)

> EXPLAIN SELECT n FROM c WHERE a = 1 ORDER BY a, b
plan
Project: n
-> Scan c: range scan on primary key: a = 1
(2 rows)

> EXPLAIN SELECT v FROM t ORDER BY v
plan
Project: v
-> Sort: v ASC
   -> Scan t: full scan
(3 rows)

> EXPLAIN SELECT x FROM h WHERE x = 1
plan
Project: x
-> Scan h: full scan, filter: x = 1
(2 rows)

> EXPLAIN UPDATE t SET v = 'z' WHERE id = 1
plan
Update t set v = 'z'
-> Scan t: point lookup on primary key: id = 1
(2 rows)

> EXPLAIN DELETE FROM t WHERE id < 3
plan
Delete from t
-> Scan t: range scan on primary key: id < 3, filter: id < 3
(2 rows)

> EXPLAIN SELECT 1
plan
Project: 1
-> Single row (no table)
(2 rows)

