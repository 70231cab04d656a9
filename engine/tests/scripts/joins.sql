# Joins, aggregates, subqueries, compound queries and views, with their plans.
> CREATE TABLE dept (id INTEGER PRIMARY KEY, name TEXT)
ok CREATE TABLE 0

> CREATE TABLE emp (id INTEGER PRIMARY KEY, name TEXT, dept INTEGER, salary INTEGER, boss INTEGER)
ok CREATE TABLE 0

> CREATE INDEX emp_dept ON emp (dept)
ok CREATE INDEX 0

> INSERT INTO dept VALUES (1, 'eng'), (2, 'ops'), (3, 'empty')
ok INSERT 3

> INSERT INTO emp VALUES (1, 'ann', 1, 120, NULL), (2, 'bob', 1, 100, 1), (3, 'cy', 2, 90, 1), (4, 'dee', 2, 95, 3), (5, 'eve', NULL, 50, NULL)
ok INSERT 5

# An equality on the inner table's primary key becomes a lookup join.
> EXPLAIN SELECT e.name, d.name FROM emp e, dept d WHERE e.dept = d.id AND e.salary > 90
plan
Project: name, name
-> Lookup join
   -> Scan emp: full scan, filter: salary > 90
   -> Scan dept: lookup on primary key: id = dept
(4 rows)

> SELECT e.name, d.name FROM emp e, dept d WHERE e.dept = d.id AND e.salary > 90 ORDER BY 1
name | name
ann | eng
bob | eng
dee | ops
(3 rows)

# ... and on an index too; the table with a constant condition is read first.
> EXPLAIN SELECT e.name FROM dept d JOIN emp e ON e.dept = d.id WHERE d.name = 'ops'
plan
Project: name
-> Lookup join
   -> Scan dept: full scan, filter: name = 'ops'
   -> Scan emp: lookup on index emp_dept: dept = id
(4 rows)

> SELECT e.name FROM dept d JOIN emp e ON e.dept = d.id WHERE d.name = 'ops' ORDER BY e.name
name
cy
dee
(2 rows)

# Equality on unindexed columns: a hash join.
> EXPLAIN SELECT a.name, b.name FROM emp a JOIN emp b ON a.salary = b.salary + 5
plan
Project: name, name
-> Hash join: (salary) = (salary + 5)
   -> Scan emp: full scan
   -> Scan emp: full scan
(4 rows)

> SELECT a.name, b.name FROM emp a JOIN emp b ON a.salary = b.salary + 5
name | name
bob | dee
dee | cy
(2 rows)

# No equality: nested loops.
> EXPLAIN SELECT a.name, b.name FROM emp a, emp b WHERE a.salary > b.salary + 25
plan
Project: name, name
-> Nested loop join, filter: salary > (salary + 25)
   -> Scan emp: full scan
   -> Scan emp: full scan
(4 rows)

> SELECT a.name, b.name FROM emp a, emp b WHERE a.salary > b.salary + 25 ORDER BY 1, 2
name | name
ann | cy
ann | eve
bob | eve
cy | eve
dee | eve
(5 rows)

# LEFT JOIN keeps unmatched rows; USING merges the column.
> SELECT d.name, e.name FROM dept d LEFT JOIN emp e ON e.dept = d.id ORDER BY 1, 2
name | name
empty | NULL
eng | ann
eng | bob
ops | cy
ops | dee
(5 rows)

> SELECT e.name, d.name FROM emp e LEFT JOIN dept d ON d.id = e.dept WHERE d.id IS NULL
name | name
eve | NULL
(1 rows)

> CREATE TABLE bonus (id INTEGER PRIMARY KEY, amount INTEGER)
ok CREATE TABLE 0

> INSERT INTO bonus VALUES (1, 10), (3, 30)
ok INSERT 2

> SELECT * FROM emp JOIN bonus USING (id)
id | name | dept | salary | boss | amount
1 | ann | 1 | 120 | NULL | 10
3 | cy | 2 | 90 | 1 | 30
(2 rows)

> SELECT name, amount FROM emp NATURAL JOIN bonus
name | amount
ann | 10
cy | 30
(2 rows)

> SELECT id FROM emp, bonus
error 42703: column reference "id" is ambiguous

> SELECT nope FROM emp, dept
error 42703: column "nope" does not exist

# Aggregates and groups.
> SELECT count(*), count(dept), count(DISTINCT dept), sum(salary), avg(salary), min(name), max(salary), total(boss) FROM emp
count(*) | count(dept) | count(DISTINCT dept) | sum(salary) | avg(salary) | min(name) | max(salary) | total(boss)
5 | 4 | 2 | 455 | 91.0 | ann | 120 | 5.0
(1 rows)

> EXPLAIN SELECT dept, count(*) AS n, sum(salary) FROM emp GROUP BY dept HAVING count(*) > 1 ORDER BY n DESC
plan
Project: dept, count(*), sum(salary)
-> Sort: count(*) DESC
   -> Filter: count(*) > 1
      -> Aggregate: count(*), sum(salary), group by dept
         -> Scan emp: full scan
(5 rows)

> SELECT dept, count(*) AS n, sum(salary) FROM emp GROUP BY dept HAVING count(*) > 1 ORDER BY n DESC
dept | n | sum(salary)
1 | 2 | 220
2 | 2 | 185
(2 rows)

> SELECT d.name, group_concat(e.name, '+') FROM dept d JOIN emp e ON e.dept = d.id GROUP BY d.name ORDER BY 1
name | group_concat(e.name, '+')
eng | ann+bob
ops | cy+dee
(2 rows)

> SELECT count(*), sum(salary) FROM emp WHERE salary > 1000
count(*) | sum(salary)
0 | NULL
(1 rows)

> SELECT salary FROM emp WHERE count(*) > 1
error 42P16: aggregate functions are not allowed in WHERE

> SELECT DISTINCT dept FROM emp ORDER BY dept
dept
NULL
1
2
(3 rows)

# Subqueries: scalar, correlated, EXISTS, IN, in FROM.
> SELECT name FROM emp WHERE salary > (SELECT avg(salary) FROM emp) ORDER BY name
name
ann
bob
dee
(3 rows)

> SELECT name, (SELECT count(*) FROM emp x WHERE x.salary > emp.salary) AS richer FROM emp ORDER BY richer
name | richer
ann | 0
bob | 1
dee | 2
cy | 3
eve | 4
(5 rows)

> SELECT name FROM dept WHERE NOT EXISTS (SELECT 1 FROM emp WHERE emp.dept = dept.id)
name
empty
(1 rows)

> SELECT name FROM emp WHERE dept IN (SELECT id FROM dept WHERE name <> 'eng') ORDER BY name
name
cy
dee
(2 rows)

> SELECT name FROM emp WHERE boss NOT IN (SELECT id FROM emp WHERE salary < 100)
name
bob
cy
(2 rows)

> SELECT best.name, best.salary FROM (SELECT name, salary FROM emp ORDER BY salary DESC LIMIT 2) AS best ORDER BY best.name
name | salary
ann | 120
bob | 100
(2 rows)

> SELECT (SELECT name, salary FROM emp)
error 42P16: a subquery used as a value must return one column, not 2

# Compound queries.
> SELECT dept FROM emp UNION SELECT id FROM dept ORDER BY 1
dept
NULL
1
2
3
(4 rows)

> SELECT dept FROM emp UNION ALL SELECT id FROM dept ORDER BY 1
dept
NULL
1
1
1
2
2
2
3
(8 rows)

> SELECT id FROM dept INTERSECT SELECT dept FROM emp
id
1
2
(2 rows)

> SELECT id FROM dept EXCEPT SELECT dept FROM emp
id
3
(1 rows)

# With ALL, duplicates count: each row on the right matches one on the left.
> VALUES (1), (1), (1), (2), (3), (NULL), (NULL) INTERSECT ALL VALUES (1), (1), (3), (3), (4), (NULL)
column1
1
1
3
NULL
(4 rows)

> VALUES (1), (1), (1), (2), (3), (NULL), (NULL) EXCEPT ALL VALUES (1), (1), (3), (3), (4), (NULL)
column1
1
2
NULL
(3 rows)

> SELECT dept FROM emp EXCEPT ALL SELECT id FROM dept
dept
1
2
NULL
(3 rows)

> SELECT id, name FROM dept UNION SELECT id FROM emp
error 42P16: each side of UNION must have the same number of columns (2 and 1)

# Expressions.
> SELECT name, CASE WHEN salary >= 100 THEN 'high' WHEN salary >= 90 THEN 'mid' ELSE 'low' END, CASE dept WHEN 1 THEN 'eng' ELSE 'other' END FROM emp ORDER BY id
name | CASE WHEN salary >= 100 THEN 'high' WHEN salary >= 90 THEN 'mid' ELSE 'low' END | CASE dept WHEN 1 THEN 'eng' ELSE 'other' END
ann | high | eng
bob | high | eng
cy | mid | other
dee | mid | other
eve | low | other
(5 rows)

> SELECT CAST('12abc' AS INTEGER), CAST(7 AS TEXT) || '!', CAST(2.9 AS INTEGER), 7 / 2, 7 / 0, 7.0 / 2, -7 % 3
CAST('12abc' AS INTEGER) | CAST(7 AS TEXT) || '!' | CAST(2.9 AS INTEGER) | 7 / 2 | 7 / 0 | 7.0 / 2 | -7 % 3
12 | 7! | 2 | 3 | NULL | 3.5 | -1
(1 rows)

> SELECT upper(name), length(name), substr(name, 2), substr(name, -2, 1), abs(-3), round(2.567, 1), typeof(1.5), coalesce(NULL, boss, 0), ifnull(boss, -1), nullif(dept, 1) FROM emp WHERE id = 2
upper(name) | length(name) | SUBSTR(name, 2) | SUBSTR(name, -2, 1) | abs(-3) | round(2.567, 1) | typeof(1.5) | coalesce(NULL, boss, 0) | ifnull(boss, -1) | nullif(dept, 1)
BOB | 3 | ob | o | 3 | 2.6 | real | 1 | 1 | NULL
(1 rows)

> SELECT name FROM emp WHERE name LIKE '%e%' ORDER BY 1
name
dee
eve
(2 rows)

> SELECT name FROM emp WHERE name LIKE 'A__'
name
ann
(1 rows)

# Views, and INSERT ... SELECT.
> CREATE VIEW rich (who, pay) AS SELECT name, salary FROM emp WHERE salary >= 100
ok CREATE VIEW 0

> SELECT * FROM rich ORDER BY pay
who | pay
bob | 100
ann | 120
(2 rows)

> SELECT r.who, d.name FROM rich r JOIN emp e ON e.name = r.who JOIN dept d ON d.id = e.dept ORDER BY 1
who | name
ann | eng
bob | eng
(2 rows)

> CREATE VIEW rich AS SELECT 1
error 42P07: view rich already exists

> CREATE TABLE archive (name TEXT, pay INTEGER)
ok CREATE TABLE 0

> INSERT INTO archive SELECT who, pay FROM rich
ok INSERT 2

> INSERT INTO archive SELECT name, salary FROM emp WHERE id > 4 RETURNING name
name
eve
(1 rows)

> SELECT * FROM archive ORDER BY pay
name | pay
eve | 50
bob | 100
ann | 120
(3 rows)

> DROP VIEW rich
ok DROP VIEW 0

> SELECT * FROM rich
error 42P01: no such table: rich

> DROP VIEW rich
error 42P01: no such view: rich

> DROP VIEW IF EXISTS rich
ok DROP VIEW 0

# Unsupported forms are named.
# RIGHT JOIN keeps every row of its right side, planned as a LEFT JOIN the other way
# round; the columns stay in FROM order.
> SELECT d.name, e.name FROM emp e RIGHT JOIN dept d ON e.dept = d.id ORDER BY d.id, e.id
name | name
eng | ann
eng | bob
ops | cy
ops | dee
empty | NULL
(5 rows)

> SELECT * FROM emp RIGHT JOIN dept ON emp.dept = dept.id WHERE emp.id IS NULL
id | name | dept | salary | boss | id | name
NULL | NULL | NULL | NULL | NULL | 3 | empty
(1 rows)

> SELECT * FROM bonus RIGHT JOIN emp USING (id) ORDER BY id
amount | id | name | dept | salary | boss
10 | 1 | ann | 1 | 120 | NULL
NULL | 2 | bob | 1 | 100 | 1
30 | 3 | cy | 2 | 90 | 1
NULL | 4 | dee | 2 | 95 | 3
NULL | 5 | eve | NULL | 50 | NULL
(5 rows)

> SELECT e.name, d.name FROM dept d RIGHT OUTER JOIN emp e ON e.dept = d.id AND d.name = 'eng' ORDER BY e.id
name | name
ann | eng
bob | eng
cy | NULL
dee | NULL
eve | NULL
(5 rows)

> SELECT e.name, b.amount, d.name FROM emp e LEFT JOIN bonus b ON b.id = e.id RIGHT JOIN dept d ON d.id = e.dept ORDER BY d.id, e.id
name | amount | name
ann | 10 | eng
bob | NULL | eng
cy | 30 | ops
dee | NULL | ops
NULL | NULL | empty
(5 rows)

> SELECT count(*), count(emp.id) FROM emp RIGHT JOIN dept ON FALSE
count(*) | count(emp.id)
3 | 0
(1 rows)

> EXPLAIN SELECT * FROM emp RIGHT JOIN dept ON emp.dept = dept.id
plan
Project: id, name, dept, salary, boss, id, name
-> Project: id, name, dept, salary, boss, id, name
   -> Lookup left join
      -> Scan dept: full scan
      -> Scan emp: lookup on index emp_dept: dept = id
(5 rows)

# FULL JOIN keeps the unmatched rows of both sides; WHERE conditions apply after it.
> SELECT e.name, d.name FROM emp e FULL JOIN dept d ON e.dept = d.id ORDER BY d.id, e.id
name | name
eve | NULL
ann | eng
bob | eng
cy | ops
dee | ops
NULL | empty
(6 rows)

> SELECT e.name, d.name FROM emp e FULL OUTER JOIN dept d ON e.dept = d.id WHERE e.id IS NULL OR d.id IS NULL ORDER BY e.name, d.name
name | name
NULL | empty
eve | NULL
(2 rows)

> SELECT e.name, d.name FROM emp e FULL JOIN dept d ON e.dept = d.id AND d.name = 'eng' AND e.salary > 110 ORDER BY e.id, d.id
name | name
NULL | ops
NULL | empty
ann | eng
bob | NULL
cy | NULL
dee | NULL
eve | NULL
(7 rows)

> SELECT count(*), count(e.id), count(d.id) FROM emp e FULL JOIN dept d ON FALSE
count(*) | count(e.id) | count(d.id)
8 | 5 | 3
(1 rows)

> SELECT count(*) FROM emp e FULL JOIN dept d ON e.dept = d.id WHERE d.id IS NULL
count(*)
1
(1 rows)

> SELECT a.name, b.amount FROM (SELECT * FROM emp WHERE id > 3) a FULL JOIN bonus b ON a.id = b.id ORDER BY a.id, b.id
name | amount
NULL | 10
NULL | 30
dee | NULL
eve | NULL
(4 rows)

> EXPLAIN SELECT * FROM emp FULL JOIN dept ON emp.dept = dept.id
plan
Project: id, name, dept, salary, boss, id, name
-> Hash full join: (dept) = (id)
   -> Scan emp: full scan
   -> Scan dept: full scan
(4 rows)

> SELECT * FROM emp FULL JOIN dept USING (id)
error 0A000: not supported: FULL JOIN with USING or NATURAL (join ON the columns instead)

