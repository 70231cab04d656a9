# ALTER TABLE: new columns read their default in old rows; renames keep the rows.
> CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)
ok CREATE TABLE 0

> INSERT INTO people VALUES (1, 'ann'), (2, 'bob')
ok INSERT 2

> ALTER TABLE people ADD COLUMN age INTEGER
ok ALTER TABLE 0

> ALTER TABLE people ADD COLUMN city TEXT NOT NULL DEFAULT 'oslo'
ok ALTER TABLE 0

> SELECT * FROM people
id | name | age | city
1 | ann | NULL | oslo
2 | bob | NULL | oslo
(2 rows)

> INSERT INTO people (id, name, age) VALUES (3, 'cy', 40)
ok INSERT 1

> UPDATE people SET city = 'rome' WHERE id = 1
ok UPDATE 1

> SELECT id, age, city FROM people WHERE city = 'oslo'
id | age | city
2 | NULL | oslo
3 | 40 | oslo
(2 rows)

> ALTER TABLE people ADD COLUMN score REAL NOT NULL
error 42P16: column "score" is NOT NULL, so it needs a DEFAULT for the rows already in people

> ALTER TABLE people ADD COLUMN age TEXT
error 42P16: column "age" already exists in table people

> ALTER TABLE people ADD COLUMN IF NOT EXISTS age TEXT
ok ALTER TABLE 0

> ALTER TABLE people ADD COLUMN extra INTEGER PRIMARY KEY
error 0A000: not supported: adding a PRIMARY KEY column to an existing table

> ALTER TABLE people RENAME COLUMN name TO full_name
ok ALTER TABLE 0

> ALTER TABLE people RENAME COLUMN nope TO other
error 42703: column "nope" does not exist in table people

> ALTER TABLE people RENAME COLUMN age TO city
error 42P16: column "city" already exists in table people

> ALTER TABLE people RENAME TO persons
ok ALTER TABLE 0

> SELECT full_name FROM people
error 42P01: no such table: people

> SELECT id, full_name, city FROM persons WHERE id <= 2
id | full_name | city
1 | ann | rome
2 | bob | oslo
(2 rows)

> CREATE TABLE other (x INTEGER)
ok CREATE TABLE 0

> ALTER TABLE persons RENAME TO other
error 42P07: table other already exists

> ALTER TABLE persons DROP COLUMN city
error 0A000: not supported: ALTER TABLE ... DROP COLUMN

> DESCRIBE persons
column | type | nullable | default | primary_key
id | INTEGER | FALSE | NULL | 1
full_name | TEXT | TRUE | NULL | NULL
age | INTEGER | TRUE | NULL | NULL
city | TEXT | FALSE | 'oslo' | NULL
(4 rows)

