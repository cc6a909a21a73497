-- fragment: entitlement_expire_body
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
--
-- A lapsed paid entitlement becomes free from the moment it ended.

, upd AS (
  UPDATE "user".entitlement_snapshots e
     SET plan_code = $7::text, is_paid = false, starts_at = e.ends_at, ends_at = NULL,
         source = NULL, updated_at = "user".from_epoch_us($1)
    FROM cand c JOIN due d USING (user_id)
   WHERE e.user_id = c.user_id
  RETURNING e.user_id, e.plan_code, e.starts_at, c.plan_code AS prev_plan,
            c.starts_at AS prev_starts, c.ends_at AS prev_ends
), num AS (
  SELECT u.*, row_number() OVER (ORDER BY u.user_id) AS n FROM upd u
), rec AS (
  INSERT INTO "user".entitlement_records (user_id, kind, plan_code, is_paid, starts_at, ends_at,
                                          source, reason_code, actor_type, actor_id, recorded_at)
  SELECT user_id, 'expire', plan_code, false, starts_at, NULL::timestamptz, NULL::text,
         $4::text, $5::text, $6::text, "user".from_epoch_us($1)
    FROM num ORDER BY n
), evt AS (
  INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at, payload)
  SELECT ($2::text[])[n], 'domain', 'user.entitlement.changed', user_id, "user".from_epoch_us($1),
         json_build_object(
           'user_id', user_id, 'kind', 'expire', 'plan_code', plan_code, 'is_paid', false,
           'starts_at', "user".rfc3339(starts_at), 'ends_at', NULL::text, 'source', NULL::text,
           'reason_code', $4::text, 'actor', json_build_object('type', $5::text, 'id', $6::text),
           'previous', json_build_object('plan_code', prev_plan, 'is_paid', true,
                                         'starts_at', "user".rfc3339(prev_starts),
                                         'ends_at', "user".rfc3339(prev_ends)))::text
    FROM num ORDER BY n
)
SELECT count(*) FROM num
