# WITH RECURSIVE: a `base UNION [ALL] step` common table expression whose step names
# it reads, in each round, the rows the round before added, until a round adds none.
> WITH RECURSIVE t (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT n FROM t
n
1
2
3
4
5
(5 rows)

> WITH RECURSIVE t (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 100) SELECT count(*), sum(n), max(n) FROM t
count(*) | sum(n) | max(n)
100 | 5050 | 100
(1 rows)

> CREATE TABLE emp (id INTEGER PRIMARY KEY, name TEXT, boss INTEGER)
ok CREATE TABLE 0

> INSERT INTO emp VALUES (1, 'ann', NULL), (2, 'bob', 1), (3, 'cy', 1), (4, 'di', 2), (5, 'ed', 4), (6, 'flo', NULL)
ok INSERT 6

# A hierarchy: everyone under ann, with their depth and path.
> WITH RECURSIVE under (id, name, depth, path) AS (
>>   SELECT id, name, 0, name FROM emp WHERE id = 1
>>   UNION ALL
>>   SELECT e.id, e.name, u.depth + 1, u.path || '/' || e.name FROM emp e JOIN under u ON e.boss = u.id
>> ) SELECT * FROM under ORDER BY path
id | name | depth | path
1 | ann | 0 | ann
2 | bob | 1 | ann/bob
4 | di | 2 | ann/bob/di
5 | ed | 3 | ann/bob/di/ed
3 | cy | 1 | ann/cy
(5 rows)

# Up the chain from ed, joined back to the table.
> WITH RECURSIVE chain (id) AS (SELECT 5 UNION SELECT e.boss FROM emp e, chain c WHERE e.id = c.id AND e.boss IS NOT NULL) SELECT emp.name FROM chain JOIN emp ON emp.id = chain.id ORDER BY emp.id
name
ann
bob
di
ed
(4 rows)

# UNION drops rows already produced, which ends a walk round a cycle; UNION ALL would
# not end (the statement memory limit stops it).
> CREATE TABLE edge (a INTEGER, b INTEGER)
ok CREATE TABLE 0

> INSERT INTO edge VALUES (1, 2), (2, 3), (3, 1), (3, 4)
ok INSERT 4

> WITH RECURSIVE reach (node) AS (SELECT 1 UNION SELECT edge.b FROM edge JOIN reach ON edge.a = reach.node) SELECT node FROM reach ORDER BY node
node
1
2
3
4
(4 rows)

# The base's column names, without a column list; plain CTEs may sit beside it and be
# read in it; a reference may rename its columns.
> WITH RECURSIVE seed AS (SELECT 3 AS start), down AS (SELECT start AS k FROM seed UNION ALL SELECT k - 1 FROM down WHERE k > 0) SELECT d.x FROM down AS d (x) ORDER BY x
x
0
1
2
3
(4 rows)

# Twice in one query, and inside a subquery.
> WITH RECURSIVE t (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT a.n, b.n FROM t a, t b WHERE a.n < b.n ORDER BY 1, 2
n | n
1 | 2
1 | 3
2 | 3
(3 rows)

> SELECT name FROM emp WHERE id IN (WITH RECURSIVE t (n) AS (SELECT 2 UNION ALL SELECT n + 2 FROM t WHERE n < 6) SELECT n FROM t) ORDER BY id
name
bob
di
flo
(3 rows)

> EXPLAIN WITH RECURSIVE t (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT n FROM t
plan
Project: n
-> Recursive union all: the first input, then the second over the rows of each round until one adds none
   -> Project: 1
      -> Single row (no table)
   -> Project: n + 1
      -> Filter: n < 5
         -> Rows the previous round of the recursive query added
(7 rows)

# WITH RECURSIVE without a step that names itself is a plain CTE.
> WITH RECURSIVE p AS (SELECT 1 AS v UNION SELECT 2) SELECT count(*) FROM p
count(*)
2
(1 rows)

> WITH RECURSIVE t (n) AS (SELECT 1 UNION ALL SELECT n, n FROM t) SELECT * FROM t
error 42P16: the recursive part of t gives 2 columns, its first part 1

> WITH RECURSIVE t (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t ORDER BY 1) SELECT * FROM t
error 0A000: not supported: WITH, ORDER BY or LIMIT on the whole of recursive query t

> WITH RECURSIVE t (n) AS (SELECT 1 UNION ALL SELECT a.n + 1 FROM t AS a (n) WHERE n < 3) SELECT * FROM t
error 0A000: not supported: column names on t inside its own recursive query

# Before a write.
> WITH RECURSIVE t (n) AS (SELECT 10 UNION ALL SELECT n + 1 FROM t WHERE n < 12) INSERT INTO emp (id, name) SELECT n, 'new' FROM t
ok INSERT 3

> SELECT count(*) FROM emp WHERE name = 'new'
count(*)
3
(1 rows)

