# Tables: creation, listing, description, dropping.
> CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL DEFAULT 1.5, active BOOLEAN DEFAULT TRUE, avatar BLOB)
ok CREATE TABLE 0

> CREATE TABLE pairs (a INTEGER, b TEXT, note VARCHAR(20), PRIMARY KEY (a, b))
ok CREATE TABLE 0

> CREATE TABLE log (message TEXT)
ok CREATE TABLE 0

> SHOW TABLES
table
log
pairs
users
(3 rows)

> DESCRIBE users
column | type | nullable | default | primary_key
id | INTEGER | FALSE | NULL | 1
name | TEXT | FALSE | NULL | NULL
score | REAL | TRUE | 1.5 | NULL
active | BOOLEAN | TRUE | TRUE | NULL
avatar | BLOB | TRUE | NULL | NULL
(5 rows)

> DESCRIBE pairs
column | type | nullable | default | primary_key
a | INTEGER | FALSE | NULL | 1
b | TEXT | FALSE | NULL | 2
note | TEXT | TRUE | NULL | NULL
(3 rows)

> CREATE TABLE users (x INTEGER)
error 42P07: table users already exists

> CREATE TABLE IF NOT EXISTS users (x INTEGER)
ok CREATE TABLE 0

> CREATE TABLE bad (a INTEGER, a TEXT)
error 42P16: column "a" is defined more than once

> CREATE TABLE bad (a INTEGER PRIMARY KEY, b INTEGER PRIMARY KEY)
error 42P16: table bad has PRIMARY KEY on several columns; use PRIMARY KEY (a, b)

> CREATE TABLE bad (a INTEGER, PRIMARY KEY (z))
error 42703: PRIMARY KEY column "z" is not a column of bad

> CREATE TABLE bad (a INTEGER DEFAULT 'x')
error 42804: column "a" is INTEGER but the value 'x' is TEXT

> CREATE TABLE bad (a DATE)
error 0A000: not supported: the column type DATE

> DROP TABLE log
ok DROP TABLE 0

> DROP TABLE log
error 42P01: no such table: log

> DROP TABLE IF EXISTS log
ok DROP TABLE 0

> SHOW TABLES
table
pairs
users
(2 rows)

# A dropped table's rows do not come back with a new table of the same name.
> INSERT INTO pairs VALUES (1, 'x', 'n')
ok INSERT 1

> DROP TABLE pairs
ok DROP TABLE 0

> CREATE TABLE pairs (a INTEGER, b TEXT, note TEXT, PRIMARY KEY (a, b))
ok CREATE TABLE 0

> SELECT * FROM pairs
a | b | note
(0 rows)

