# BEGIN / COMMIT / ROLLBACK, snapshot reads, conflicts, and aborted transactions.
> CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)
ok CREATE TABLE 0

> INSERT INTO acct VALUES (1, 100), (2, 50)
ok INSERT 2

> BEGIN
ok BEGIN 0

> UPDATE acct SET balance = balance - 30 WHERE id = 1
ok UPDATE 1

> UPDATE acct SET balance = balance + 30 WHERE id = 2
ok UPDATE 1

# The transaction sees its own writes; another session does not (no dirty reads).
> SELECT balance FROM acct ORDER BY id
balance
70
80
(2 rows)

> @other SELECT balance FROM acct ORDER BY id
balance
100
50
(2 rows)

> COMMIT
ok COMMIT 0

> @other SELECT balance FROM acct ORDER BY id
balance
70
80
(2 rows)

> BEGIN
ok BEGIN 0

> DELETE FROM acct
ok DELETE 2

> ROLLBACK
ok ROLLBACK 0

> SELECT count_me FROM acct
error 42703: column "count_me" does not exist in table acct

> SELECT id FROM acct
id
1
2
(2 rows)

# Snapshot reads: a transaction keeps seeing the data as of its BEGIN.
> BEGIN
ok BEGIN 0

> SELECT balance FROM acct WHERE id = 1
balance
70
(1 rows)

> @other UPDATE acct SET balance = 0 WHERE id = 1
ok UPDATE 1

> SELECT balance FROM acct WHERE id = 1
balance
70
(1 rows)

# Writing a row someone else changed since BEGIN fails at COMMIT, writing nothing.
> UPDATE acct SET balance = balance + 1 WHERE id = 1
ok UPDATE 1

> INSERT INTO acct VALUES (3, 3)
ok INSERT 1

> COMMIT
error 40001: serialization conflict: a concurrent transaction wrote the same rows; retry the transaction

> SELECT id, balance FROM acct ORDER BY id
id | balance
1 | 0
2 | 80
(2 rows)

# An error aborts the transaction; nothing runs until ROLLBACK (or COMMIT, which rolls back).
> BEGIN
ok BEGIN 0

> INSERT INTO acct VALUES (4, 4)
ok INSERT 1

> INSERT INTO acct VALUES (1, 1)
error 23505: duplicate key in table acct violates primary key: (id) = (1) already exists

> SELECT id FROM acct
error 25P02: the current transaction is aborted by an earlier error; statements are ignored until ROLLBACK

> BEGIN
error 25001: a transaction is already in progress

> COMMIT
ok ROLLBACK 0

> SELECT id FROM acct WHERE id = 4
id
(0 rows)

# DDL is transactional too.
> BEGIN
ok BEGIN 0

> CREATE TABLE scratch (x INTEGER)
ok CREATE TABLE 0

> @other SHOW TABLES
table
acct
(1 rows)

> ROLLBACK
ok ROLLBACK 0

> SHOW TABLES
table
acct
(1 rows)

> COMMIT
ok COMMIT 0

> BEGIN ISOLATION LEVEL SERIALIZABLE
error 0A000: not supported: transaction modes (every transaction runs with snapshot isolation)

