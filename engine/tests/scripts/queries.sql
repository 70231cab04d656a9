# SELECT: projections, WHERE with three-valued logic, ORDER BY, LIMIT/OFFSET.
> CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, age INTEGER, city TEXT)
ok CREATE TABLE 0

> INSERT INTO p VALUES (1, 'ann', 31, 'oslo'), (2, 'bob', NULL, 'rome'), (3, 'cy', 25, NULL), (4, 'di', 40, 'oslo'), (5, 'ed', 25, 'rome')
ok INSERT 5

> SELECT 1 + 2 * 3, 7 / 2, 7.0 / 2, 7 % 3, -7 / 2, 1 / 0, 'a' || 'b' || 1, NULL + 1
1 + 2 * 3 | 7 / 2 | 7.0 / 2 | 7 % 3 | -7 / 2 | 1 / 0 | 'a' || 'b' || 1 | NULL + 1
7 | 3 | 3.5 | 1 | -3 | NULL | ab1 | NULL
(1 rows)

> SELECT name AS who, age + 1 AS next_year, age IS NULL FROM p WHERE id = 2
who | next_year | age IS NULL
bob | NULL | TRUE
(1 rows)

> SELECT p.name FROM p WHERE p.age > 30
name
ann
di
(2 rows)

> SELECT x.name FROM p AS x WHERE x.id = 1
name
ann
(1 rows)

> SELECT p.name FROM p AS x
error 42703: no table named "p" in this query (for p.name)

# NULL is neither equal nor unequal to anything.
> SELECT name FROM p WHERE age <> 25
name
ann
di
(2 rows)

> SELECT name FROM p WHERE NOT (age = 25)
name
ann
di
(2 rows)

> SELECT name FROM p WHERE age = 25 OR city = 'rome'
name
bob
cy
ed
(3 rows)

> SELECT name FROM p WHERE city IS NULL OR age IS NULL
name
bob
cy
(2 rows)

> SELECT name FROM p WHERE age >= 25 AND age <= 31 AND city IS NOT NULL
name
ann
ed
(2 rows)

> SELECT name, age FROM p ORDER BY age
name | age
bob | NULL
cy | 25
ed | 25
ann | 31
di | 40
(5 rows)

> SELECT name, age FROM p ORDER BY age DESC, name
name | age
di | 40
ann | 31
cy | 25
ed | 25
bob | NULL
(5 rows)

> SELECT name, age FROM p ORDER BY age NULLS LAST
name | age
cy | 25
ed | 25
ann | 31
di | 40
bob | NULL
(5 rows)

> SELECT name, age * -1 AS neg FROM p ORDER BY neg LIMIT 2
name | neg
bob | NULL
di | -40
(2 rows)

> SELECT name, city FROM p ORDER BY 2 DESC, 1 LIMIT 3 OFFSET 1
name | city
ed | rome
ann | oslo
di | oslo
(3 rows)

> SELECT name FROM p ORDER BY 3
error 22023: ORDER BY position 3 is not in the select list (1 to 1)

> SELECT name FROM p LIMIT -1
error 22023: LIMIT must be a non-negative integer, not -1

> SELECT name FROM p ORDER BY id DESC LIMIT 2
name
ed
di
(2 rows)

> SELECT name FROM p LIMIT 0
name
(0 rows)

> SELECT * FROM p WHERE name = 'nobody'
id | name | age | city
(0 rows)

> SELECT name + 1 FROM p
error 42804: cannot apply + to TEXT 'ann' and INTEGER 1

> SELECT name FROM p WHERE name
error 42804: TEXT 'ann' used as a condition

> SELECT 1 WHERE 1 = 2
1
(0 rows)

> SELECT missing
error 42703: column "missing" does not exist (the query has no FROM clause)

> SELECT * FROM nope
error 42P01: no such table: nope

> SELECT 'it''s', X'CAFE', TRUE AND NULL, FALSE AND NULL, TRUE OR NULL
'it''s' | X'CAFE' | true AND NULL | false AND NULL | true OR NULL
it's | X'CAFE' | NULL | FALSE | TRUE
(1 rows)

> SELECT -9223372036854775808 AS smallest
smallest
-9223372036854775808
(1 rows)

> SELECT - (-9223372036854775808)
error 22003: integer overflow


# Projections of plain columns (moved out of the row rather than copied): reordered,
# repeated (copied then), all of them, and a subset.
> SELECT city, id FROM p WHERE id < 3
city | id
oslo | 1
rome | 2
(2 rows)

> SELECT name, name, id FROM p WHERE id = 1
name | name | id
ann | ann | 1
(1 rows)

> SELECT * FROM p WHERE id >= 4
id | name | age | city
4 | di | 40 | oslo
5 | ed | 25 | rome
(2 rows)

> SELECT id, name, age, city FROM p ORDER BY id DESC LIMIT 1
id | name | age | city
5 | ed | 25 | rome
(1 rows)

# A scan of more rows than one storage batch holds (batches end at 1024 rows or 1 MiB):
# 3000 rows of 1 KB each, read whole, in order, and backwards.
> CREATE TABLE wide (id INTEGER PRIMARY KEY, pad TEXT)
ok CREATE TABLE 0

> CREATE TABLE digit (x INTEGER PRIMARY KEY)
ok CREATE TABLE 0

> INSERT INTO digit VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)
ok INSERT 10

> INSERT INTO wide SELECT a.x * 1000 + b.x * 100 + c.x * 10 + d.x + 1, replace(replace('aaaaaaaaaa', 'a', 'bbbbbbbbbb'), 'b', 'cccccccccc') FROM digit a, digit b, digit c, digit d WHERE a.x < 3
ok INSERT 3000

> SELECT count(*), sum(id), min(length(pad)), max(length(pad)) FROM wide
count(*) | sum(id) | min(length(pad)) | max(length(pad))
3000 | 4501500 | 1000 | 1000
(1 rows)

> SELECT id FROM wide ORDER BY id DESC LIMIT 2
id
3000
2999
(2 rows)
