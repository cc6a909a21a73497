#!/usr/bin/env bash
# bench/listing/seed.sh DSN [ROWS]
#
# Fills an EMPTY userservice database with ROWS accounts (default 1,000,000) for the admin
# listing benchmark (docs/benchmarks.md "Admin listing at 1M accounts"). Set-based SQL run by
# psql (INSERT ... SELECT over generate_series), reproducible (setseed), ~2-3 minutes per
# million accounts on the 2-core development machine.
#
# The schema comes from migrations/*.sql, applied here exactly as the service's runner does
# (one transaction per file plus its "user".schema_migrations row), so a service started on
# the database afterwards finds it current. Rows look like the service writes them:
#   - accounts: user_id "user-" + 26 Crockford base32 characters of a ULID whose time part is
#     created_at's millisecond; lower-case unique emails; minted "player-xxxxxx" names (30%
#     renamed to "Pilot_<n>"); language/zone/country from the compiled-in lists;
#     created_at over the last ~2 years, denser towards now; 3% soft-deleted (reason, actor);
#   - entitlement_snapshots: one per account ("free" since creation as ensure-by-email
#     writes it, or the state a grant / the sweeper left), with the matching
#     entitlement_records (grant; grant + expire for lapsed paid periods);
#   - sanction_active / limit_active with their "apply" / "set" history records; active
#     items end in the future or never (the sweeper has caught up: nothing lapsed remains).
#   - event_outbox stays empty: the relay deletes rows once published.
# The inserts name the same columns as the service's; account_created_at (migration 0004) is
# filled by the same BEFORE INSERT trigger as for the service, after the accounts exist.
# Spread at 1M: plans free ~86% (6% of them lapsed paid periods), paid_monthly 7%,
# paid_yearly 5%, paid_lifetime 2%; declared_country set for 65% (a dozen big countries and a
# long tail); sanctions on ~2.3% of accounts, limit overrides on ~1.2%.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 DSN [ROWS]" >&2
  exit 2
fi
DSN=$1
ROWS=${2:-1000000}
case $ROWS in '' | *[!0-9]*) echo "ROWS must be a positive integer" >&2; exit 2 ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$DSN")
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- Schema: the service's migrations, as src/adapters/postgres/migrations.cpp applies them.
"${PSQL[@]}" <<'SQL'
CREATE SCHEMA IF NOT EXISTS "user";
CREATE TABLE IF NOT EXISTS "user".schema_migrations (
  version int PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
SQL
for file in "$ROOT"/migrations/*.sql; do
  name=$(basename "$file" .sql)
  version=$((10#${name%%_*}))
  applied=$("${PSQL[@]}" -At -c "SELECT count(*) FROM \"user\".schema_migrations WHERE version = $version")
  [ "$applied" = 1 ] && continue
  echo "applying migration $name"
  { echo "BEGIN;"; cat "$file"; echo ";"
    echo "INSERT INTO \"user\".schema_migrations (version, name) VALUES ($version, '$name');"
    echo "COMMIT;"; } | "${PSQL[@]}"
done

existing=$("${PSQL[@]}" -At -c 'SELECT count(*) FROM "user".accounts')
if [ "$existing" != 0 ]; then
  echo "\"user\".accounts already holds $existing rows; seed an empty database" >&2
  exit 1
fi

# Crockford base32 (lower case, as domain::encode_ulid) of the low 5*N bits of an SQL bigint
# expression, most significant character first: one substr() per character, no subqueries.
b32() {
  local v=$1 n=$2 k out=""
  for ((k = n - 1; k >= 0; k--)); do
    out+="substr('0123456789abcdefghjkmnpqrstvwxyz', ((($v) >> $((5 * k))) & 31)::int + 1, 1)"
    [ $k -gt 0 ] && out+=" || "
  done
  echo "$out"
}
# Base 36 [0-9a-z], N characters, of a non-negative bigint expression (minted user names).
b36() {
  local v=$1 n=$2 k out=""
  for ((k = n - 1; k >= 0; k--)); do
    out+="substr('0123456789abcdefghijklmnopqrstuvwxyz', ((($v) / (36::bigint ^ $k)::bigint) % 36)::int + 1, 1)"
    [ $k -gt 0 ] && out+=" || "
  done
  echo "$out"
}
ULID_TIME=$(b32 "ms" 10)
ULID_RAND=$(b32 "(h1 & 1099511627775)" 8)" || "$(b32 "(h2 & 1099511627775)" 8)
# A bijection of 1..36^6 (multiplier coprime to 36^6), so minted names never collide.
MINTED_NAME=$(b36 "((i::bigint * 1234567891 + 987654321) % 2176782336)" 6)

start=$(now_s)
"${PSQL[@]}" -v rows="$ROWS" <<SQL
SET synchronous_commit = off;
SET maintenance_work_mem = '256MB';
SET work_mem = '64MB';
SELECT setseed(0.42) \g /dev/null

-- One row of random draws per account, so that every table below agrees with the others.
CREATE TEMP TABLE seed AS
WITH base AS (
  SELECT i,
         now() - interval '730 days' + interval '730 days' * sqrt((i - 1 + random()) / :rows)
           AS created_at,
         hashtextextended('u' || i, 42) AS h1, hashtextextended('v' || i, 42) AS h2,
         random() AS r_name, random() AS r_country, random() AS r_tail, random() AS r_lang,
         random() AS r_del, random() AS r_del_at, random() AS r_upd, random() AS r_plan,
         random() AS r_plan_t, random() AS r_src
    FROM generate_series(1, :rows) AS i
), timed AS (
  SELECT b.*, (extract(epoch FROM b.created_at) * 1000)::bigint AS ms FROM base b
)
SELECT t.*,
       'user-' || $ULID_TIME || $ULID_RAND AS user_id,
       CASE WHEN r_del < 0.03 THEN t.created_at + (now() - t.created_at) * r_del_at END
         AS deleted_at
  FROM timed t;

CREATE TEMP TABLE langs (k int PRIMARY KEY, lang text, zone text);
INSERT INTO langs VALUES
  (0, 'en', 'UTC'), (1, 'en', 'America/New_York'), (2, 'en', 'Europe/London'),
  (3, 'de', 'Europe/Berlin'), (4, 'fr', 'Europe/Paris'), (5, 'pt-BR', 'America/Sao_Paulo'),
  (6, 'ja', 'Asia/Tokyo'), (7, 'es', 'Europe/Madrid'), (8, 'pl', 'Europe/Warsaw'),
  (9, 'en', 'America/Los_Angeles'), (10, 'ko', 'Asia/Seoul'), (11, 'it', 'Europe/Rome');

INSERT INTO "user".accounts (user_id, email, user_name, preferred_language, time_zone,
                             declared_country, created_at, updated_at, deleted_at,
                             deleted_reason_code, deleted_actor_type, deleted_actor_id)
SELECT user_id,
       'pilot.' || i || '@' || (ARRAY['example.com', 'mail.example.net', 'games.example.org'])[1 + i % 3],
       CASE WHEN r_name < 0.3 THEN 'Pilot_' || i ELSE 'player-' || $MINTED_NAME END,
       l.lang, l.zone,
       CASE WHEN r_country < 0.35 THEN NULL
            WHEN r_tail < 0.9 THEN (ARRAY['US','US','US','US','DE','DE','DE','GB','GB','FR','FR',
                 'BR','BR','JP','PL','IT','ES','CA','AU','NL','SE','TR','KR','MX'])[1 + floor(r_tail / 0.9 * 24)::int]
            ELSE (ARRAY['AR','AT','BE','BG','CH','CL','CO','CZ','DK','EE','EG','FI','GR','HR','HU',
                 'ID','IE','IL','IN','IS','LI','LT','LU','LV','MA','MT','MY','NG','NO','NZ','PE',
                 'PH','PT','RO','RS','SA','SG','SI','SK','TH','TW','UA','VN','ZA','KE','GH','UY',
                 'PY','BO','EC','CR','PA','DO','GT','JM','TT','CY','MC','AD','SM'])[1 + floor((r_tail - 0.9) / 0.1 * 60)::int]
       END,
       created_at,
       greatest(created_at,
                CASE WHEN r_name < 0.3 OR r_upd < 0.2 THEN created_at + (now() - created_at) * r_upd END,
                deleted_at),
       deleted_at,
       CASE WHEN deleted_at IS NOT NULL THEN (ARRAY['user_request', 'abuse_report', 'duplicate_account'])[1 + i % 3] END,
       CASE WHEN deleted_at IS NOT NULL THEN 'admin' END,
       CASE WHEN deleted_at IS NOT NULL THEN 'admin-' || (i % 17) END
  FROM seed JOIN langs l ON l.k = least(floor(r_lang * 12)::int, 11)
 ORDER BY i;

-- The current entitlement: free since creation (what ensure-by-email writes), what the last
-- grant left (active paid periods end in the future), or what the sweeper left after a paid
-- period ended (free from the end on).
CREATE TEMP TABLE ent AS
WITH k AS (
  SELECT user_id, i, created_at, r_plan_t, r_src,
         CASE WHEN r_plan < 0.07 THEN 'paid_monthly' WHEN r_plan < 0.12 THEN 'paid_yearly'
              WHEN r_plan < 0.14 THEN 'paid_lifetime' WHEN r_plan < 0.20 THEN 'lapsed'
              ELSE 'free' END AS kind
    FROM seed
), t AS (
  SELECT k.*,
         CASE kind WHEN 'paid_monthly' THEN now() + interval '30 days' * r_plan_t
                   WHEN 'paid_yearly' THEN now() + interval '365 days' * r_plan_t
                   WHEN 'lapsed' THEN created_at + interval '30 days' + (now() - created_at - interval '30 days') * r_plan_t
         END AS period_end
    FROM k
)
SELECT t.*,
       CASE kind WHEN 'paid_monthly' THEN greatest(created_at, period_end - interval '30 days')
                 WHEN 'paid_yearly' THEN greatest(created_at, period_end - interval '365 days')
                 WHEN 'paid_lifetime' THEN created_at + (now() - created_at) * r_plan_t
                 WHEN 'lapsed' THEN greatest(created_at, period_end - interval '30 days')
                 ELSE created_at END AS grant_start,
       CASE WHEN r_src < 0.8 THEN 'billing' WHEN r_src < 0.95 THEN 'promo' ELSE 'admin' END AS source
  FROM t;
-- A "lapsed" period needs at least 30 days of account age to have ended; younger ones stay free.
UPDATE ent SET kind = 'free', period_end = NULL WHERE kind = 'lapsed' AND period_end >= now();

INSERT INTO "user".entitlement_snapshots (user_id, plan_code, is_paid, starts_at, ends_at, source,
                                          updated_at)
SELECT user_id,
       CASE WHEN kind IN ('free', 'lapsed') THEN 'free' ELSE kind END,
       kind NOT IN ('free', 'lapsed'),
       CASE kind WHEN 'free' THEN created_at WHEN 'lapsed' THEN period_end ELSE grant_start END,
       CASE WHEN kind IN ('paid_monthly', 'paid_yearly') THEN period_end END,
       CASE WHEN kind NOT IN ('free', 'lapsed') THEN source END,
       CASE kind WHEN 'free' THEN created_at WHEN 'lapsed' THEN period_end + interval '3 seconds'
                 ELSE grant_start END
  FROM ent ORDER BY i;

INSERT INTO "user".entitlement_records (user_id, kind, plan_code, is_paid, starts_at, ends_at,
                                        source, reason_code, actor_type, actor_id, recorded_at)
SELECT user_id, 'grant', CASE kind WHEN 'lapsed' THEN 'paid_monthly' ELSE kind END, true,
       grant_start, period_end, source,
       CASE source WHEN 'billing' THEN 'purchase' WHEN 'promo' THEN 'promotion' ELSE 'support_case' END,
       CASE source WHEN 'billing' THEN 'billing' ELSE 'admin' END,
       CASE source WHEN 'billing' THEN 'billing-service' ELSE 'admin-' || (i % 17) END,
       grant_start
  FROM ent WHERE kind <> 'free'
UNION ALL
SELECT user_id, 'expire', 'free', false, period_end, NULL, NULL, 'expired', 'system',
       'expiry-sweeper', period_end + interval '3 seconds'
  FROM ent WHERE kind = 'lapsed'
ORDER BY 11;

-- Sanctions and limit overrides: independent draws per code; a third of them end (in the
-- future: lapsed ones have been swept), the rest are open-ended.
-- (The draw sits in a subquery's target list: a volatile WHERE clause on the cross join would
-- be pushed down to the VALUES list and drawn once per code instead of once per account.)
CREATE TEMP TABLE sanc AS
SELECT user_id, i, code,
       created_at + (now() - created_at) * random() AS applied_at,
       CASE WHEN random() < 0.33 THEN now() + interval '90 days' * random() END AS expires_at
  FROM (SELECT s.user_id, s.i, s.created_at, c.code, c.p, random() AS r
          FROM seed s
         CROSS JOIN (VALUES ('login_block', 0.010), ('game_join_block', 0.006),
                            ('private_game_create_block', 0.003),
                            ('profile_update_block', 0.004)) c(code, p)) x
 WHERE r < p;
INSERT INTO "user".sanction_active (user_id, sanction_code, reason_code, actor_type, actor_id,
                                    applied_at, expires_at)
SELECT user_id, code, (ARRAY['abuse_report', 'cheating', 'chargeback'])[1 + i % 3], 'admin',
       'admin-' || (i % 17), applied_at, expires_at
  FROM sanc ORDER BY applied_at;
INSERT INTO "user".sanction_records (user_id, kind, sanction_code, expires_at, reason_code,
                                     actor_type, actor_id, recorded_at)
SELECT user_id, 'apply', code, expires_at, (ARRAY['abuse_report', 'cheating', 'chargeback'])[1 + i % 3],
       'admin', 'admin-' || (i % 17), applied_at
  FROM sanc ORDER BY applied_at;

CREATE TEMP TABLE lim AS
SELECT user_id, i, code, (random() * 20)::int AS value,
       created_at + (now() - created_at) * random() AS applied_at,
       CASE WHEN random() < 0.33 THEN now() + interval '90 days' * random() END AS expires_at
  FROM (SELECT s.user_id, s.i, s.created_at, c.code, c.p, random() AS r
          FROM seed s
         CROSS JOIN (VALUES ('max_owned_private_games', 0.005),
                            ('max_pending_public_applications', 0.003),
                            ('max_active_game_memberships', 0.004)) c(code, p)) x
 WHERE r < p;
INSERT INTO "user".limit_active (user_id, limit_code, value, reason_code, actor_type, actor_id,
                                 applied_at, expires_at)
SELECT user_id, code, value, 'support_case', 'admin', 'admin-' || (i % 17), applied_at, expires_at
  FROM lim ORDER BY applied_at;
INSERT INTO "user".limit_records (user_id, kind, limit_code, value, expires_at, reason_code,
                                  actor_type, actor_id, recorded_at)
SELECT user_id, 'set', code, value, expires_at, 'support_case', 'admin', 'admin-' || (i % 17),
       applied_at
  FROM lim ORDER BY applied_at;
SQL
echo "rows inserted in $(elapsed "$start") s"

# Planner statistics and the visibility map (index-only scans) as autovacuum would leave them.
vstart=$(now_s)
"${PSQL[@]}" -c 'VACUUM (ANALYZE) "user".accounts, "user".entitlement_snapshots,
  "user".entitlement_records, "user".sanction_active, "user".sanction_records,
  "user".limit_active, "user".limit_records'
echo "vacuum analyze: $(elapsed "$vstart") s; total $(elapsed "$start") s"
"${PSQL[@]}" -At -F ' ' <<'SQL'
SELECT 'accounts', count(*), 'deleted', count(deleted_at), 'with country', count(declared_country)
  FROM "user".accounts;
SELECT 'plan', plan_code, count(*) FROM "user".entitlement_snapshots GROUP BY plan_code ORDER BY 2;
SELECT 'sanction', sanction_code, count(*) FROM "user".sanction_active GROUP BY 2 ORDER BY 2;
SELECT 'limit', limit_code, count(*) FROM "user".limit_active GROUP BY 2 ORDER BY 2;
SELECT 'size', pg_size_pretty(pg_database_size(current_database()));
SQL
