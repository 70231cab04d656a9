# Window functions: f(...) OVER ([PARTITION BY ...] [ORDER BY ...]). Without ORDER BY
# a window is its whole partition; with it, the partition's rows up to the current
# row's last peer (rows with equal ORDER BY values).
> CREATE TABLE emp (id INTEGER PRIMARY KEY, name TEXT NOT NULL, dept TEXT, salary INTEGER)
ok CREATE TABLE 0

> INSERT INTO emp VALUES (1, 'ann', 'eng', 100), (2, 'bob', 'eng', 90), (3, 'cy', 'ops', NULL), (4, 'di', 'ops', 70), (5, 'ed', 'eng', 90), (6, 'flo', NULL, 50)
ok INSERT 6

> SELECT name, row_number() OVER (ORDER BY id) FROM emp ORDER BY id
name | row_number() OVER (ORDER BY id)
ann | 1
bob | 2
cy | 3
di | 4
ed | 5
flo | 6
(6 rows)

# Ranking with ties: rank leaves gaps, dense_rank does not; NULL salaries sort first.
> SELECT name, salary, rank() OVER (ORDER BY salary DESC), dense_rank() OVER (ORDER BY salary DESC), row_number() OVER (ORDER BY salary DESC, id) AS rn FROM emp ORDER BY rn
name | salary | rank() OVER (ORDER BY salary DESC) | dense_rank() OVER (ORDER BY salary DESC) | rn
ann | 100 | 1 | 1 | 1
bob | 90 | 2 | 2 | 2
ed | 90 | 2 | 2 | 3
di | 70 | 4 | 3 | 4
flo | 50 | 5 | 4 | 5
cy | NULL | 6 | 5 | 6
(6 rows)

> SELECT name, dept, rank() OVER (PARTITION BY dept ORDER BY salary DESC) AS r FROM emp ORDER BY dept, r, name
name | dept | r
flo | NULL | 1
ann | eng | 1
bob | eng | 2
ed | eng | 2
di | ops | 1
cy | ops | 2
(6 rows)

> SELECT name, percent_rank() OVER (ORDER BY salary), cume_dist() OVER (ORDER BY salary) FROM emp ORDER BY salary, name
name | percent_rank() OVER (ORDER BY salary) | cume_dist() OVER (ORDER BY salary)
cy | 0.0 | 0.166666666666667
flo | 0.2 | 0.333333333333333
di | 0.4 | 0.5
bob | 0.6 | 0.833333333333333
ed | 0.6 | 0.833333333333333
ann | 1.0 | 1.0
(6 rows)

> SELECT id, ntile(4) OVER (ORDER BY id) FROM emp ORDER BY id
id | ntile(4) OVER (ORDER BY id)
1 | 1
2 | 1
3 | 2
4 | 2
5 | 3
6 | 4
(6 rows)

# Aggregates: running with ORDER BY (peers together), whole partition without.
> SELECT id, salary, sum(salary) OVER (ORDER BY id) AS running, sum(salary) OVER () AS total, count(*) OVER (PARTITION BY dept) AS in_dept FROM emp ORDER BY id
id | salary | running | total | in_dept
1 | 100 | 100 | 400 | 3
2 | 90 | 190 | 400 | 3
3 | NULL | 190 | 400 | 2
4 | 70 | 260 | 400 | 2
5 | 90 | 350 | 400 | 3
6 | 50 | 400 | 400 | 1
(6 rows)

> SELECT salary, sum(salary) OVER (ORDER BY salary) FROM emp WHERE salary IS NOT NULL ORDER BY salary
salary | sum(salary) OVER (ORDER BY salary)
50 | 50
70 | 120
90 | 300
90 | 300
100 | 400
(5 rows)

> SELECT dept, avg(salary) OVER (PARTITION BY dept), min(name) OVER (PARTITION BY dept), max(salary) OVER (PARTITION BY dept), group_concat(name, '/') OVER (PARTITION BY dept ORDER BY id) FROM emp ORDER BY id
dept | avg(salary) OVER (PARTITION BY dept) | min(name) OVER (PARTITION BY dept) | max(salary) OVER (PARTITION BY dept) | group_concat(name, '/') OVER (PARTITION BY dept ORDER BY id)
eng | 93.3333333333333 | ann | 100 | ann
eng | 93.3333333333333 | ann | 100 | ann/bob
ops | 70.0 | cy | 70 | cy
ops | 70.0 | cy | 70 | cy/di
eng | 93.3333333333333 | ann | 100 | ann/bob/ed
NULL | 50.0 | flo | 50 | flo
(6 rows)

> SELECT id, count(DISTINCT salary) OVER (ORDER BY id) FROM emp ORDER BY id
id | count(DISTINCT salary) OVER (ORDER BY id)
1 | 1
2 | 2
3 | 2
4 | 3
5 | 3
6 | 4
(6 rows)

# Offsets: lag and lead with an offset and a default; first and last values of the frame.
> SELECT id, lag(salary) OVER (ORDER BY id), lead(salary, 2) OVER (ORDER BY id), lag(name, 1, 'none') OVER (PARTITION BY dept ORDER BY id) FROM emp ORDER BY id
id | lag(salary) OVER (ORDER BY id) | lead(salary, 2) OVER (ORDER BY id) | lag(name, 1, 'none') OVER (PARTITION BY dept ORDER BY id)
1 | NULL | NULL | none
2 | 100 | 70 | ann
3 | 90 | 90 | none
4 | NULL | 50 | cy
5 | 70 | NULL | bob
6 | 90 | NULL | none
(6 rows)

> SELECT id, first_value(name) OVER (PARTITION BY dept ORDER BY salary DESC), last_value(name) OVER (ORDER BY salary) FROM emp ORDER BY id
id | first_value(name) OVER (PARTITION BY dept ORDER BY salary DESC) | last_value(name) OVER (ORDER BY salary)
1 | ann | ann
2 | ann | ed
3 | di | cy
4 | di | di
5 | ann | ed
6 | flo | flo
(6 rows)

# In expressions, in ORDER BY, and over the groups of an aggregated query.
> SELECT name, salary - avg(salary) OVER (PARTITION BY dept) AS diff FROM emp WHERE dept = 'eng' ORDER BY row_number() OVER (ORDER BY name DESC)
name | diff
ed | -3.33333333333333
bob | -3.33333333333333
ann | 6.66666666666667
(3 rows)

> SELECT dept, sum(salary) AS s, rank() OVER (ORDER BY sum(salary) DESC) AS r FROM emp GROUP BY dept ORDER BY r
dept | s | r
eng | 280 | 1
ops | 70 | 2
NULL | 50 | 3
(3 rows)

> SELECT DISTINCT dept, count(*) OVER (PARTITION BY dept) FROM emp ORDER BY 1
dept | count(*) OVER (PARTITION BY dept)
NULL | 1
eng | 3
ops | 2
(3 rows)

> SELECT * FROM (SELECT name, row_number() OVER (PARTITION BY dept ORDER BY salary DESC) AS r FROM emp) WHERE r = 1 ORDER BY name
name | r
ann | 1
di | 1
flo | 1
(3 rows)

> SELECT row_number() OVER () FROM emp LIMIT 2
row_number() OVER ()
1
2
(2 rows)

> EXPLAIN SELECT name, rank() OVER (PARTITION BY dept ORDER BY salary) FROM emp
plan
Project: name, rank() OVER (PARTITION BY dept ORDER BY salary)
-> Window: rank() OVER (PARTITION BY dept ORDER BY salary)
   -> Scan emp: full scan
(3 rows)

> SELECT count(*) OVER () FROM emp WHERE id > 100
count(*) OVER ()
(0 rows)

# Where they are not allowed, and what is not supported.
> SELECT name FROM emp WHERE row_number() OVER (ORDER BY id) = 1
error 42P16: window functions are not allowed in WHERE

> SELECT dept FROM emp GROUP BY dept HAVING rank() OVER (ORDER BY dept) = 1
error 42P16: window functions are not allowed in HAVING

> SELECT sum(row_number() OVER ()) FROM emp
error 42P16: window functions are not allowed in aggregate arguments

> SELECT row_number() OVER (ORDER BY rank() OVER ()) FROM emp
error 42P16: window function calls cannot be nested

> SELECT ntile(0) OVER () FROM emp
error 22023: the argument of ntile must be a positive integer, not 0

> SELECT row_number(1) OVER () FROM emp
error 42P16: wrong number of arguments to window function row_number()

> SELECT id, nth_value(name, 2) OVER (ORDER BY id), nth_value(name, 2) OVER (PARTITION BY dept ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM emp ORDER BY id
id | nth_value(name, 2) OVER (ORDER BY id) | nth_value(name, 2) OVER (PARTITION BY dept ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
1 | NULL | bob
2 | bob | bob
3 | bob | di
4 | bob | di
5 | bob | bob
6 | bob | NULL
(6 rows)

> SELECT nth_value(name, 0) OVER () FROM emp
error 22023: the second argument of nth_value must be a positive integer, not 0

# Frames counted in rows: a moving sum, a running count, what is left of the partition,
# the rows before the current one (empty for the first), and the whole partition.
> SELECT id, sum(salary) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS moving, count(*) OVER (ORDER BY salary, id ROWS UNBOUNDED PRECEDING) AS so_far, max(name) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS rest, last_value(name) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING) AS before, first_value(name) OVER (PARTITION BY dept ORDER BY id RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS first_in_dept, last_value(name) OVER (PARTITION BY dept ORDER BY id RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last_in_dept FROM emp ORDER BY id
id | moving | so_far | rest | before | first_in_dept | last_in_dept
1 | 190 | 6 | flo | NULL | ann | ed
2 | 190 | 4 | flo | ann | ann | ed
3 | 160 | 1 | flo | bob | cy | di
4 | 160 | 3 | flo | cy | cy | di
5 | 210 | 5 | flo | di | ann | ed
6 | 140 | 2 | flo | ed | flo | flo
(6 rows)

> SELECT id, avg(salary) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 3 FOLLOWING) FROM emp ORDER BY id
id | avg(salary) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 3 FOLLOWING)
1 | 80.0
2 | 80.0
3 | 70.0
4 | 70.0
5 | 50.0
6 | NULL
(6 rows)

> SELECT sum(salary) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED FOLLOWING AND CURRENT ROW) FROM emp
error 42P16: a frame cannot start at UNBOUNDED FOLLOWING or end at UNBOUNDED PRECEDING (UNBOUNDED FOLLOWING AND CURRENT ROW)

> SELECT sum(salary) OVER (ORDER BY id ROWS -1 PRECEDING) FROM emp
error 22023: a frame offset must be a non-negative integer, not -1

> SELECT sum(salary) OVER (ORDER BY id RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM emp
error 0A000: not supported: RANGE frames with offsets or starting at the current row (ROWS frames are supported)

> SELECT sum(salary) OVER (ORDER BY id GROUPS 1 PRECEDING) FROM emp
error 0A000: not supported: GROUPS frames (ROWS frames are supported)

> SELECT sum(salary) OVER w FROM emp WINDOW w AS (ORDER BY id)
error 0A000: not supported: named windows (OVER name, WINDOW clauses)

> UPDATE emp SET salary = row_number() OVER ()
error 42P16: window functions are not allowed in SET

