# Common table expressions: WITH name [(columns)] AS (query), ... before a query or a
# write. Each is a subquery in FROM wherever it is named; each sees the ones before it.
> CREATE TABLE emp (id INTEGER PRIMARY KEY, name TEXT NOT NULL, dept TEXT, salary REAL)
ok CREATE TABLE 0

> INSERT INTO emp VALUES (1, 'ann', 'eng', 100), (2, 'bob', 'eng', 90), (3, 'cy', 'ops', NULL), (4, 'di', 'ops', 70)
ok INSERT 4

> WITH eng AS (SELECT * FROM emp WHERE dept = 'eng') SELECT count(*), sum(salary) FROM eng
count(*) | sum(salary)
2 | 190.0
(1 rows)

# A later one reads an earlier one; the query joins both to a table.
> WITH d AS (SELECT dept, avg(salary) AS a FROM emp GROUP BY dept),
>> hi AS (SELECT * FROM d WHERE a > 75)
>> SELECT e.name, hi.a FROM emp e JOIN hi ON e.dept = hi.dept ORDER BY e.name
name | a
ann | 95.0
bob | 95.0
(2 rows)

# Column names given with the name rename the query's first columns.
> WITH d (k, n) AS (SELECT dept, count(*) FROM emp GROUP BY dept) SELECT * FROM d ORDER BY k
k | n
eng | 2
ops | 2
(2 rows)

> WITH d (k) AS (SELECT dept, count(*) FROM emp GROUP BY dept) SELECT * FROM d ORDER BY k
k | count(*)
eng | 2
ops | 2
(2 rows)

> WITH d (a, b, c) AS (SELECT dept, count(*) FROM emp GROUP BY dept) SELECT * FROM d
error 42P16: d has 2 columns available but 3 column names were given

# Named twice, with an alias each; an alias may rename its columns too.
> WITH x AS (SELECT id FROM emp) SELECT a.id, b.id FROM x a, x b WHERE a.id = b.id + 1 ORDER BY a.id
id | id
2 | 1
3 | 2
4 | 3
(3 rows)

> WITH x AS (SELECT id FROM emp) SELECT * FROM x AS y (z) WHERE z > 2 ORDER BY z
z
3
4
(2 rows)

> WITH x AS (SELECT id FROM emp) SELECT * FROM x, x
error 42P16: table name "x" is specified more than once (use an alias)

> SELECT * FROM (SELECT 1, 2) AS t (a, b)
a | b
1 | 2
(1 rows)

# A common table expression hides a table of the same name, only in its statement.
> WITH emp AS (SELECT 42 AS id) SELECT * FROM emp
id
42
(1 rows)

> SELECT count(*) FROM emp
count(*)
4
(1 rows)

# In subqueries: those of the enclosing query are seen there, and a subquery may have
# its own.
> WITH m AS (SELECT max(id) AS id FROM emp) SELECT name FROM emp WHERE id = (SELECT id FROM m)
name
di
(1 rows)

> WITH m AS (SELECT max(id) AS id FROM emp) SELECT name FROM emp WHERE EXISTS (SELECT 1 FROM m WHERE m.id = emp.id)
name
di
(1 rows)

> SELECT name FROM emp WHERE id IN (WITH m AS (SELECT min(id) AS id FROM emp) SELECT id FROM m)
name
ann
(1 rows)

> WITH x AS (SELECT 1 AS a UNION SELECT 2) SELECT * FROM x ORDER BY a DESC
a
2
1
(2 rows)

> WITH x AS (SELECT 1 AS a) SELECT * FROM x UNION ALL SELECT * FROM x
a
1
1
(2 rows)

> EXPLAIN WITH x AS (SELECT * FROM emp WHERE id = 4) SELECT name FROM x
plan
Project: name
-> Project: id, name, dept, salary
   -> Scan emp: point lookup on primary key: id = 4
(3 rows)

# Not itself, nor one defined after it: those names are tables.
> WITH x AS (SELECT * FROM x) SELECT * FROM x
error 42P01: no such table: x

> WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a
error 42P01: no such table: b

> WITH x AS (SELECT 1), x AS (SELECT 2) SELECT * FROM x
error 42P16: WITH query name "x" is specified more than once

> WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r
1
1
(1 rows)

# Before a write, for its queries.
> WITH x AS (SELECT id FROM emp WHERE dept = 'ops') INSERT INTO emp SELECT id + 10, 'new', 'ops', NULL FROM x
ok INSERT 2

> INSERT INTO emp WITH x AS (SELECT id FROM emp WHERE id > 10) SELECT id + 10, 'newer', 'ops', NULL FROM x
ok INSERT 2

> WITH x AS (SELECT id FROM emp WHERE id > 20) UPDATE emp SET salary = 1 WHERE id IN (SELECT id FROM x)
ok UPDATE 2

> WITH x AS (SELECT id FROM emp WHERE salary = 1) DELETE FROM emp WHERE id IN (SELECT id FROM x) RETURNING id
id
23
24
(2 rows)

> SELECT id, name FROM emp ORDER BY id
id | name
1 | ann
2 | bob
3 | cy
4 | di
13 | new
14 | new
(6 rows)

# A view may be defined with one; it does not see the caller's.
> CREATE VIEW v AS WITH x AS (SELECT id FROM emp) SELECT count(*) AS n FROM x
ok CREATE VIEW 0

> WITH x AS (SELECT 7 AS a) SELECT * FROM v, x
n | a
6 | 7
(1 rows)

