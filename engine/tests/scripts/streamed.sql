# Queries whose rows are stored rows as they are (a scan in key order, no filter, all
# columns or some): streamed from storage without copying each row.
> CREATE TABLE s (id INTEGER PRIMARY KEY, name TEXT, score REAL, ok BOOLEAN, data BLOB)
ok CREATE TABLE 0

> INSERT INTO s VALUES (3, 'c', 1.5, true, x'00ff'), (1, 'a', NULL, false, NULL), (2, NULL, -0.25, NULL, x''), (4, 'dé', 1e300, true, x'41')
ok INSERT 4

> SELECT * FROM s
id | name | score | ok | data
1 | a | NULL | FALSE | NULL
2 | NULL | -0.25 | NULL | X''
3 | c | 1.5 | TRUE | X'00FF'
4 | dé | 1.0e+300 | TRUE | X'41'
(4 rows)

> SELECT data, id, name, id FROM s
data | id | name | id
NULL | 1 | a | 1
X'' | 2 | NULL | 2
X'00FF' | 3 | c | 3
X'41' | 4 | dé | 4
(4 rows)

> SELECT name FROM s ORDER BY id DESC
name
dé
c
NULL
a
(4 rows)

> SELECT id, name FROM s WHERE id >= 2 AND id < 4
id | name
2 | NULL
3 | c
(2 rows)

> SELECT id FROM s WHERE id > 2 ORDER BY id DESC
id
4
3
(2 rows)

> SELECT * FROM s WHERE id > 10
id | name | score | ok | data
(0 rows)

# A column added later reads its default in rows stored before it.
> ALTER TABLE s ADD COLUMN extra TEXT DEFAULT 'x'
ok ALTER TABLE 0

> SELECT id, extra FROM s
id | extra
1 | x
2 | x
3 | x
4 | x
(4 rows)

> INSERT INTO s (id, name, extra) VALUES (5, 'e', 'own')
ok INSERT 1

> SELECT * FROM s
id | name | score | ok | data | extra
1 | a | NULL | FALSE | NULL | x
2 | NULL | -0.25 | NULL | X'' | x
3 | c | 1.5 | TRUE | X'00FF' | x
4 | dé | 1.0e+300 | TRUE | X'41' | x
5 | e | NULL | NULL | NULL | own
(5 rows)

# Inside a transaction the scan sees the transaction's own writes and deletes.
> BEGIN
ok BEGIN 0

> INSERT INTO s (id, name) VALUES (0, 'zero')
ok INSERT 1

> DELETE FROM s WHERE id = 3
ok DELETE 1

> UPDATE s SET name = 'A' WHERE id = 1
ok UPDATE 1

> SELECT id, name FROM s
id | name
0 | zero
1 | A
2 | NULL
4 | dé
5 | e
(5 rows)

> @other SELECT id, name FROM s
id | name
1 | a
2 | NULL
3 | c
4 | dé
5 | e
(5 rows)

> ROLLBACK
ok ROLLBACK 0

> SELECT id, name FROM s
id | name
1 | a
2 | NULL
3 | c
4 | dé
5 | e
(5 rows)

# A composite key read by its leading column.
> CREATE TABLE pairs (a INTEGER, b TEXT, v INTEGER, PRIMARY KEY (a, b))
ok CREATE TABLE 0

> INSERT INTO pairs VALUES (1, 'y', 10), (2, 'x', 20), (1, 'x', 30), (2, 'a', 40)
ok INSERT 4

> SELECT * FROM pairs
a | b | v
1 | x | 30
1 | y | 10
2 | a | 40
2 | x | 20
(4 rows)

> SELECT b, v FROM pairs WHERE a = 1
b | v
x | 30
y | 10
(2 rows)

> SELECT v FROM pairs WHERE a = 2 ORDER BY b DESC
v
20
40
(2 rows)

# A table without a primary key (rows under hidden row ids).
> CREATE TABLE loose (v TEXT)
ok CREATE TABLE 0

> INSERT INTO loose VALUES ('first'), (NULL), ('third')
ok INSERT 3

> SELECT * FROM loose
v
first
NULL
third
(3 rows)

> SELECT v, v FROM loose
v | v
first | first
NULL | NULL
third | third
(3 rows)

