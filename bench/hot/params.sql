-- bench/hot/params.sql — run by bench/run.sh after the seed (psql -v ON_ERROR_STOP=1).
--
-- pgbench cannot build strings (its expressions are numbers only), so the pgbench scripts
-- fetch the text parameters of the service's statements from this table (`SELECT … FROM
-- bench.params p1, … WHERE p1.n = :n1 … \gset`, one round trip per 8 transactions), and the
-- driver measures that fetch alone to take its cost out again (docs/benchmarks.md, "Hot
-- paths: service vs pgbench"). The service never reads this schema.
--
--   n        1..live accounts, in an order unrelated to creation time
--   user_id  a live (not soft-deleted) account
--   email    its email
--   batch    a text[] literal of 20 live user ids, quoted exactly as the service's
--            PgUserStore::live_accounts sends them ({"user-…","user-…",…})
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;

CREATE TEMP TABLE live AS
SELECT (row_number() OVER (ORDER BY hashtextextended(user_id, 8)))::int AS n, user_id, email
  FROM "user".accounts
 WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX ON live (n);
ANALYZE live;

CREATE TABLE bench.params AS
SELECT l.n, l.user_id, l.email, b.batch
  FROM live l
  JOIN (SELECT p.n,
               '{' || string_agg('"' || q.user_id || '"', ',' ORDER BY j) || '}' AS batch
          FROM live p
         CROSS JOIN generate_series(1, 20) AS j
          JOIN live q
            ON q.n = 1 + (abs(hashtextextended(p.n || ':' || j, 8))
                          % (SELECT count(*) FROM live))
         GROUP BY p.n) b USING (n);
ALTER TABLE bench.params ADD PRIMARY KEY (n);
VACUUM (ANALYZE) bench.params;
