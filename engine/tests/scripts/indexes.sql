# Secondary indexes: creation with backfill, maintenance by every write, uniqueness, and
# the planner's use of them.
> CREATE TABLE p (id INTEGER PRIMARY KEY, email TEXT UNIQUE, city TEXT, age INTEGER)
ok CREATE TABLE 0

> INSERT INTO p VALUES (1, 'a@x', 'oslo', 30), (2, 'b@x', 'rome', 25), (3, 'c@x', 'oslo', 41), (4, NULL, 'lima', 30), (5, NULL, NULL, NULL)
ok INSERT 5

> CREATE INDEX p_city ON p (city)
ok CREATE INDEX 0

> CREATE INDEX p_city ON p (age)
error 42P07: index p_city already exists

> CREATE INDEX IF NOT EXISTS p_city ON p (age)
ok CREATE INDEX 0

> CREATE INDEX p_age_city ON p (age, city)
ok CREATE INDEX 0

> CREATE INDEX bad ON p (nope)
error 42703: column "nope" does not exist in table p

> CREATE INDEX bad ON missing (x)
error 42P01: no such table: missing

> CREATE INDEX bad ON p (age, age)
error 42P16: column "age" appears twice in index bad

# Equality on an indexed column reads the index.
> EXPLAIN SELECT id FROM p WHERE city = 'oslo'
plan
Project: id
-> Scan p: index scan on index p_city (city): city = 'oslo'
(2 rows)

> SELECT id FROM p WHERE city = 'oslo'
id
1
3
(2 rows)

> SELECT id FROM p WHERE city = 'nowhere'
id
(0 rows)

> SELECT id FROM p WHERE city = NULL
id
(0 rows)

> EXPLAIN SELECT id FROM p WHERE city IS NULL
plan
Project: id
-> Scan p: index scan on index p_city (city): city IS NULL
(2 rows)

> SELECT id FROM p WHERE city IS NULL
id
5
(1 rows)

> EXPLAIN SELECT id FROM p WHERE email IS NULL
plan
Project: id
-> Scan p: index scan on index p_email_key (email): email IS NULL
(2 rows)

> SELECT id FROM p WHERE email IS NULL
id
4
5
(2 rows)

# A unique index fixed completely is a point lookup.
> EXPLAIN SELECT id FROM p WHERE email = 'b@x'
plan
Project: id
-> Scan p: point lookup on index p_email_key (email): email = 'b@x'
(2 rows)

> SELECT id FROM p WHERE email = 'b@x'
id
2
(1 rows)

# IN lists become one span per value, in key order.
> EXPLAIN SELECT id FROM p WHERE city IN ('rome', 'oslo', 'rome', NULL)
plan
Project: id
-> Scan p: index scan on index p_city (city): city = 'oslo' OR city = 'rome'
(2 rows)

> SELECT id FROM p WHERE city IN ('rome', 'oslo', 'rome', NULL)
id
1
3
2
(3 rows)

> EXPLAIN SELECT city FROM p WHERE id IN (5, 1, 3)
plan
Project: city
-> Scan p: point lookups on primary key: id = 1 OR id = 3 OR id = 5
(2 rows)

> SELECT city FROM p WHERE id IN (5, 1, 3, 99)
city
oslo
oslo
NULL
(3 rows)

> SELECT id FROM p WHERE city NOT IN ('oslo', 'lima')
id
2
(1 rows)

# Ranges and BETWEEN on a leading column; NULLs never satisfy a range.
> EXPLAIN SELECT id FROM p WHERE age BETWEEN 26 AND 35
plan
Project: id
-> Scan p: index scan on index p_age_city (age, city): age >= 26 AND age <= 35, filter: age BETWEEN 26 AND 35
(2 rows)

> SELECT id FROM p WHERE age BETWEEN 26 AND 35
id
4
1
(2 rows)

> SELECT id FROM p WHERE age < 31
id
2
4
1
(3 rows)

> SELECT id FROM p WHERE age NOT BETWEEN 26 AND 35
id
2
3
(2 rows)

# Equality on more columns beats a range; the primary key beats an index.
> EXPLAIN SELECT id FROM p WHERE age = 30 AND city = 'lima'
plan
Project: id
-> Scan p: index scan on index p_age_city (age, city): age = 30 AND city = 'lima'
(2 rows)

> SELECT id FROM p WHERE age = 30 AND city = 'lima'
id
4
(1 rows)

> EXPLAIN SELECT id FROM p WHERE id > 2 AND city = 'oslo'
plan
Project: id
-> Scan p: index scan on index p_city (city): city = 'oslo', filter: id > 2
(2 rows)

> EXPLAIN SELECT id FROM p WHERE id = 3 AND city = 'oslo'
plan
Project: id
-> Scan p: point lookup on primary key: id = 3, filter: city = 'oslo'
(2 rows)

> EXPLAIN SELECT id FROM p WHERE age > 20 AND city = 'oslo'
plan
Project: id
-> Scan p: index scan on index p_city (city): city = 'oslo', filter: age > 20
(2 rows)

# ORDER BY ... LIMIT reads an index in order instead of sorting.
> EXPLAIN SELECT id, age FROM p ORDER BY age LIMIT 2
plan
Project: id, age
-> Limit: 2
   -> Scan p: index scan on index p_age_city (age, city), in key order
(3 rows)

> SELECT id, age FROM p ORDER BY age LIMIT 2
id | age
5 | NULL
2 | 25
(2 rows)

> EXPLAIN SELECT id, age FROM p ORDER BY age DESC LIMIT 2
plan
Project: id, age
-> Limit: 2
   -> Scan p: index scan on index p_age_city (age, city), in key order, descending
(3 rows)

> SELECT id, age FROM p ORDER BY age DESC LIMIT 2
id | age
3 | 41
1 | 30
(2 rows)

> EXPLAIN SELECT id FROM p WHERE city = 'oslo' ORDER BY city
plan
Project: id
-> Scan p: index scan on index p_city (city): city = 'oslo'
(2 rows)

> EXPLAIN SELECT id, age FROM p ORDER BY age NULLS LAST LIMIT 2
plan
Project: id, age
-> Limit: 2
   -> Sort: age ASC NULLS LAST
      -> Scan p: full scan
(4 rows)

> EXPLAIN SELECT id, age FROM p ORDER BY age
plan
Project: id, age
-> Sort: age ASC
   -> Scan p: full scan
(3 rows)

# Unique violations fail the whole statement and name the index.
> INSERT INTO p VALUES (6, 'f@x', 'kyiv', 50), (7, 'a@x', 'kyiv', 51)
error 23505: duplicate key in table p violates unique index p_email_key: (email) = ('a@x') already exists

# The first row at fault decides the error: here a unique index before a primary key.
> INSERT INTO p VALUES (6, 'f@x', 'kyiv', 50), (7, 'a@x', 'kyiv', 51), (1, 'g@x', 'kyiv', 52)
error 23505: duplicate key in table p violates unique index p_email_key: (email) = ('a@x') already exists

> INSERT INTO p VALUES (6, 'f@x', 'kyiv', 50), (1, 'g@x', 'kyiv', 52), (7, 'a@x', 'kyiv', 51)
error 23505: duplicate key in table p violates primary key: (id) = (1) already exists

> INSERT INTO p VALUES (6, 'f@x', 'kyiv', 50), (8, 'f@x', 'kyiv', 51)
error 23505: duplicate key in table p violates unique index p_email_key: (email) = ('f@x') already exists

> SELECT id FROM p WHERE city = 'kyiv'
id
(0 rows)

> INSERT INTO p VALUES (6, NULL, 'kyiv', 50), (7, NULL, 'kyiv', 51)
ok INSERT 2

> UPDATE p SET email = 'c@x' WHERE id = 1
error 23505: duplicate key in table p violates unique index p_email_key: (email) = ('c@x') already exists

> UPDATE p SET email = 'b@x' WHERE id = 1
error 23505: duplicate key in table p violates unique index p_email_key: (email) = ('b@x') already exists

# Swapping unique values in one statement is judged on the end state.
> UPDATE p SET email = email || '!' WHERE email IS NOT NULL
ok UPDATE 3

> SELECT id, email FROM p WHERE email = 'a@x!'
id | email
1 | a@x!
(1 rows)

# Updates and deletes keep every index exact.
> UPDATE p SET city = 'rome', age = age + 1 WHERE id = 3
ok UPDATE 1

> SELECT id FROM p WHERE city = 'oslo'
id
1
(1 rows)

> SELECT id FROM p WHERE city = 'rome'
id
2
3
(2 rows)

> SELECT id FROM p WHERE age = 42 AND city = 'rome'
id
3
(1 rows)

> UPDATE p SET id = id + 100 WHERE city = 'rome'
ok UPDATE 2

> SELECT id, email FROM p WHERE city = 'rome'
id | email
102 | b@x!
103 | c@x!
(2 rows)

> DELETE FROM p WHERE city = 'rome'
ok DELETE 2

> SELECT id FROM p WHERE city = 'rome'
id
(0 rows)

> SELECT id FROM p WHERE email = 'b@x!'
id
(0 rows)

# A unique index that the data contradicts cannot be built, and leaves nothing behind.
> CREATE UNIQUE INDEX p_age_unique ON p (age)
error 23505: duplicate key in table p violates unique index p_age_unique: (age) = (30) already exists

> CREATE UNIQUE INDEX p_city_unique ON p (city)
error 23505: duplicate key in table p violates unique index p_city_unique: (city) = ('kyiv') already exists

> EXPLAIN SELECT id FROM p WHERE age = 30
plan
Project: id
-> Scan p: index scan on index p_age_city (age, city): age = 30
(2 rows)

# Composite unique constraints, upsert on a unique index, REPLACE.
> CREATE TABLE m (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, n INTEGER, UNIQUE (a, b))
ok CREATE TABLE 0

> INSERT INTO m VALUES (1, 1, 'x', 0), (2, 1, 'y', 0), (3, 2, 'x', 0)
ok INSERT 3

> INSERT INTO m VALUES (4, 1, 'x', 0)
error 23505: duplicate key in table m violates unique index m_a_b_key: (a, b) = (1, 'x') already exists

> INSERT INTO m VALUES (4, 1, 'x', 0) ON CONFLICT (a, b) DO UPDATE SET n = m.n + 1 RETURNING id, n
id | n
1 | 1
(1 rows)

> INSERT INTO m VALUES (4, 1, 'x', 0) ON CONFLICT (b, a) DO NOTHING
ok INSERT 0

> INSERT INTO m VALUES (5, 9, 'z', 0) ON CONFLICT (a, b) DO UPDATE SET n = 7
ok INSERT 1

> INSERT INTO m VALUES (5, 9, 'w', 0) ON CONFLICT (a, b) DO NOTHING
error 23505: duplicate key in table m violates primary key: (id) = (5) already exists

> INSERT INTO m VALUES (6, 1, 'y', 0) ON CONFLICT (id) DO NOTHING
error 23505: duplicate key in table m violates unique index m_a_b_key: (a, b) = (1, 'y') already exists

> REPLACE INTO m VALUES (6, 1, 'y', 60)
ok INSERT 1

> INSERT OR REPLACE INTO m VALUES (1, 2, 'x', 10)
ok INSERT 1

> SELECT id, a, b, n FROM m ORDER BY id
id | a | b | n
1 | 2 | x | 10
5 | 9 | z | 0
6 | 1 | y | 60
(3 rows)

> INSERT OR IGNORE INTO m VALUES (7, 2, 'x', 0), (8, 3, 'x', 0)
ok INSERT 1

> SELECT id FROM m WHERE a = 3
id
8
(1 rows)

> ALTER TABLE m RENAME COLUMN b TO label
ok ALTER TABLE 0

> EXPLAIN SELECT id FROM m WHERE a = 1 AND label = 'y'
plan
Project: id
-> Scan m: point lookup on index m_a_b_key (a, label): a = 1 AND label = 'y'
(2 rows)

> SELECT id FROM m WHERE a = 1 AND label = 'y'
id
6
(1 rows)

# DROP INDEX removes the index and its entries; queries fall back to scans.
> DROP INDEX p_city
ok DROP INDEX 0

> DROP INDEX p_city
error 42704: no such index: p_city

> DROP INDEX IF EXISTS p_city
ok DROP INDEX 0

> EXPLAIN SELECT id FROM p WHERE city = 'oslo'
plan
Project: id
-> Scan p: full scan, filter: city = 'oslo'
(2 rows)

> SELECT id FROM p WHERE city = 'oslo'
id
1
(1 rows)

> CREATE INDEX p_city ON p (city)
ok CREATE INDEX 0

> SELECT id FROM p WHERE city = 'oslo'
id
1
(1 rows)

> DROP TABLE m
ok DROP TABLE 0

> CREATE TABLE m (x INTEGER)
ok CREATE TABLE 0

> CREATE INDEX m_a_b_key ON m (x)
ok CREATE INDEX 0

# The example in the README.
> CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, city TEXT, age INTEGER)
ok CREATE TABLE 0

> CREATE INDEX people_city ON people (city)
ok CREATE INDEX 0

> EXPLAIN SELECT id, name FROM people WHERE city IN ('oslo', 'rome') AND age > 30 ORDER BY name LIMIT 5
plan
Project: id, name
-> Limit: 5
   -> Sort: name ASC
      -> Scan people: index scan on index people_city (city): city = 'oslo' OR city = 'rome', filter: age > 30
(4 rows)

