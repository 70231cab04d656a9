# An INTEGER PRIMARY KEY left out (or NULL) takes the next id, past every id stored.
> CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)
ok CREATE TABLE 0

> INSERT INTO items (name) VALUES ('a'), ('b')
ok INSERT 2

> INSERT INTO items VALUES (10, 'explicit'), (NULL, 'after ten')
ok INSERT 2

> UPDATE items SET id = 20 WHERE id = 1
ok UPDATE 1

> INSERT INTO items (name) VALUES ('after twenty')
ok INSERT 1

> SELECT id, name FROM items
id | name
2 | b
10 | explicit
11 | after ten
20 | a
21 | after twenty
(5 rows)

> INSERT INTO items VALUES (21, 'taken')
error 23505: duplicate key in table items violates primary key: (id) = (21) already exists

# A failed statement's ids are not reused, but nothing collides.
> INSERT INTO items (name) VALUES ('next')
ok INSERT 1

> SELECT id FROM items WHERE name = 'next'
id
22
(1 rows)

# Only a single INTEGER key is filled in; other keys must be given.
> CREATE TABLE tags (name TEXT PRIMARY KEY, n INTEGER)
ok CREATE TABLE 0

> INSERT INTO tags (n) VALUES (1)
error 23502: column "name" of table tags cannot be NULL

> CREATE TABLE pairs (a INTEGER, b INTEGER, PRIMARY KEY (a, b))
ok CREATE TABLE 0

> INSERT INTO pairs (a) VALUES (1)
error 23502: column "b" of table pairs cannot be NULL

