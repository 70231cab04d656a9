# LIKE: `%` any run of characters, `_` one, ASCII letters in either case. ESCAPE names a
# character after which `%`, `_` and itself stand for themselves; ILIKE is LIKE.
> SELECT 'a_c' LIKE 'a\_c' ESCAPE '\', 'abc' LIKE 'a\_c' ESCAPE '\', 'abc' LIKE 'a_c' ESCAPE '\'
'a_c' LIKE 'a\_c' ESCAPE '\' | 'abc' LIKE 'a\_c' ESCAPE '\' | 'abc' LIKE 'a_c' ESCAPE '\'
TRUE | FALSE | TRUE
(1 rows)

> SELECT '50%' LIKE '50!%' ESCAPE '!', '500' LIKE '50!%' ESCAPE '!', '50% off' LIKE '50!%%' ESCAPE '!'
'50%' LIKE '50!%' ESCAPE '!' | '500' LIKE '50!%' ESCAPE '!' | '50% off' LIKE '50!%%' ESCAPE '!'
TRUE | FALSE | TRUE
(1 rows)

> SELECT 'a!b' LIKE 'a!!b' ESCAPE '!', 'ABC' LIKE 'a%' ESCAPE '!', 'a%b%c' LIKE 'a!%%c' ESCAPE '!', 'a%bc' LIKE 'a!%%!%c' ESCAPE '!'
'a!b' LIKE 'a!!b' ESCAPE '!' | 'ABC' LIKE 'a%' ESCAPE '!' | 'a%b%c' LIKE 'a!%%c' ESCAPE '!' | 'a%bc' LIKE 'a!%%!%c' ESCAPE '!'
TRUE | TRUE | TRUE | FALSE
(1 rows)

> SELECT 'héllo' LIKE 'h_llo' ESCAPE '!', 'ab' LIKE 'a%b%' ESCAPE '!', '' LIKE '%' ESCAPE '!', 'x' NOT LIKE 'x' ESCAPE '!'
'héllo' LIKE 'h_llo' ESCAPE '!' | 'ab' LIKE 'a%b%' ESCAPE '!' | '' LIKE '%' ESCAPE '!' | 'x' NOT LIKE 'x' ESCAPE '!'
TRUE | TRUE | TRUE | FALSE
(1 rows)

> SELECT NULL LIKE 'a' ESCAPE '!', 'a' LIKE NULL ESCAPE '!'
NULL LIKE 'a' ESCAPE '!' | 'a' LIKE NULL ESCAPE '!'
NULL | NULL
(1 rows)

> SELECT 'Hello' ILIKE 'hello', 'Hello' NOT ILIKE 'h%', 'a_b' ILIKE 'A#_B' ESCAPE '#'
'Hello' ILIKE 'hello' | 'Hello' NOT ILIKE 'h%' | 'a_b' ILIKE 'A#_B' ESCAPE '#'
TRUE | FALSE | TRUE
(1 rows)

> CREATE TABLE t (s TEXT)
ok CREATE TABLE 0

> INSERT INTO t VALUES ('100%'), ('100'), ('10_0'), ('1000')
ok INSERT 4

> SELECT s FROM t WHERE s LIKE '%!%' ESCAPE '!' OR s LIKE '%!_%' ESCAPE '!' ORDER BY s
s
100%
10_0
(2 rows)

> EXPLAIN SELECT s FROM t WHERE s LIKE '%!%' ESCAPE '!'
plan
Project: s
-> Scan t: full scan, filter: s LIKE '%!%' ESCAPE '!'
(2 rows)

> SELECT 'x' LIKE 'x!' ESCAPE '!'
error 22023: LIKE pattern "x!" ends with its escape character

> SELECT 'x' LIKE 'x' ESCAPE 'ab'
error 22023: ESCAPE takes one character in quotes, not 'ab'

