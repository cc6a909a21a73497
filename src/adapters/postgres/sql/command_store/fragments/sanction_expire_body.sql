-- fragment: sanction_expire_body
--
-- One statement expires lapsed items of one kind: `cand` selects and row-locks the items,
-- `due` the users whose account row lock is held, and the body moves the items out of the
-- current table, appends `expire` records and writes the events. Parameters: $1 now (epoch
-- µs), $2 minted event ids (text[]; item n uses [n], or [2n-1] and [2n] for sanctions),
-- $3 the user (command) or the batch size (sweeper), $4..$6 the sweeper's reason and actor;
-- then per kind: entitlements $7 the free plan; sanctions $7 the sanction with lifecycle
-- events (and $8 the touched code, commands); limits ($7 the touched code, commands).
--
-- Exactly once: a row is moved out by one DELETE/UPDATE only. `cand` locks its rows FOR
-- UPDATE, which in READ COMMITTED re-checks the expiry on the newest row version, so a
-- re-apply that moved the expiry into the future wins over a racing sweep, and nobody can
-- change a locked row before the DELETE/UPDATE reaches it.
--
-- The DELETE/UPDATE therefore joins `cand` on the primary key and repeats no expiry
-- condition: with one, the planner could drive it from the expiry index instead. With
-- statistics from before a mass lapse it estimated one lapsed row and chose that plan,
-- which rescans the whole backlog for each batch: 20,000 sanctions lapsing at once took
-- 43 s instead of 2.6 s at 1M accounts (docs/scaling.md, "Expiry sweeper").

, gone AS (
  DELETE FROM "user".sanction_active s
   USING cand c, due d
   WHERE s.user_id = c.user_id AND s.sanction_code = c.sanction_code AND d.user_id = c.user_id
  RETURNING s.user_id, s.sanction_code, s.expires_at
), num AS (
  SELECT g.*, row_number() OVER (ORDER BY g.user_id, g.sanction_code) AS n FROM gone g
), rec AS (
  INSERT INTO "user".sanction_records (user_id, kind, sanction_code, expires_at, reason_code,
                                       actor_type, actor_id, recorded_at)
  SELECT user_id, 'expire', sanction_code, expires_at, $4::text, $5::text, $6::text,
         "user".from_epoch_us($1)
    FROM num ORDER BY n
), evt AS (
  INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at, payload)
  SELECT event_id, stream, event_type, user_id, "user".from_epoch_us($1), payload
    FROM (
      SELECT ($2::text[])[2 * n - 1] AS event_id, 'domain' AS stream,
             'user.sanction.changed' AS event_type, user_id, n, 0 AS k,
             json_build_object('user_id', user_id, 'kind', 'expire',
                               'sanction_code', sanction_code, 'active', false,
                               'expires_at', "user".rfc3339(expires_at), 'reason_code', $4::text,
                               'actor', json_build_object('type', $5::text, 'id', $6::text))::text
               AS payload
        FROM num
      UNION ALL
      SELECT ($2::text[])[2 * n], 'lifecycle', 'user.login_unblocked', user_id, n, 1,
             json_build_object('user_id', user_id, 'kind', 'expire',
                               'expires_at', "user".rfc3339(expires_at), 'reason_code', $4::text,
                               'actor', json_build_object('type', $5::text, 'id', $6::text))::text
        FROM num WHERE sanction_code = $7::text
    ) x
   ORDER BY n, k
)
SELECT count(*) FROM num
