#include "adapters/postgres/command_store.h"

#include <limits>

#include "adapters/postgres/account_state.h"
#include "adapters/postgres/pool.h"
#include "adapters/postgres/read_sources.h"
#include "domain/commands.h"

namespace userservice::postgres {

using domain::TimePoint;
using services::CommandOutcome;
using services::CommandResult;
using services::ExpiryKind;

namespace sql {
namespace {

// Compile-time concatenation of several literals (the statements share their CTEs).
template <std::size_t... N>
constexpr auto join(const char (&... parts)[N]) {
  SqlText<(N + ...) - sizeof...(N) + 1> out{};
  std::size_t pos = 0;
  auto append = [&](const char* p, std::size_t n) {
    for (std::size_t i = 0; i + 1 < n; ++i) out.data[pos++] = p[i];
  };
  (append(parts, N), ...);
  out.data[pos] = '\0';
  return out;
}

// ---- Expiry -----------------------------------------------------------------------------
// One statement expires lapsed items of one kind: `cand` selects and row-locks the items,
// `due` the users whose account row lock is held, and the body moves the items out of the
// current table, appends `expire` records and writes the events. Parameters: $1 now (epoch
// µs), $2 minted event ids (text[]; item n uses [n], or [2n-1] and [2n] for sanctions),
// $3 the user (command) or the batch size (sweeper), $4..$6 the sweeper's reason and actor;
// then per kind: entitlements $7 the free plan; sanctions $7 the sanction with lifecycle
// events (and $8 the touched code, commands); limits ($7 the touched code, commands).
//
// Exactly once: a row is moved out by one DELETE/UPDATE only. `cand` locks its rows FOR
// UPDATE, which in READ COMMITTED re-checks the expiry on the newest row version, so a
// re-apply that moved the expiry into the future wins over a racing sweep, and nobody can
// change a locked row before the DELETE/UPDATE reaches it.
//
// The DELETE/UPDATE therefore joins `cand` on the primary key and repeats no expiry
// condition: with one, the planner could drive it from the expiry index instead. With
// statistics from before a mass lapse it estimated one lapsed row and chose that plan,
// which rescans the whole backlog for each batch: 20,000 sanctions lapsing at once took
// 43 s instead of 2.6 s at 1M accounts (docs/scaling.md, "Expiry sweeper").

// Commands: the caller's first statement holds the account lock already.
constexpr char kEntitlementCandForUser[] = R"(WITH cand AS (
  SELECT user_id, plan_code, starts_at, ends_at FROM "user".entitlement_snapshots
   WHERE user_id = $3 AND is_paid AND ends_at <= "user".from_epoch_us($1)
     FOR UPDATE
), due AS (
  SELECT user_id FROM "user".accounts WHERE user_id = $3 AND deleted_at IS NULL
))";

// Sweeper: SKIP LOCKED twice — items another sweeper holds, and users whose account row a
// command (or another sweeper) holds, are left for a later batch; nothing ever waits.
constexpr char kEntitlementCandDue[] = R"(WITH cand AS (
  SELECT user_id, plan_code, starts_at, ends_at FROM "user".entitlement_snapshots
   WHERE is_paid AND ends_at IS NOT NULL AND ends_at <= "user".from_epoch_us($1)
   ORDER BY ends_at LIMIT $3
     FOR UPDATE SKIP LOCKED
), due AS (
  SELECT a.user_id FROM "user".accounts a WHERE a.user_id IN (SELECT user_id FROM cand)
     FOR UPDATE OF a SKIP LOCKED
))";

// A lapsed paid entitlement becomes free from the moment it ended.
constexpr char kEntitlementExpireBody[] = R"(, upd AS (
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
SELECT count(*) FROM num)";

constexpr char kSanctionCandForUser[] = R"(WITH cand AS (
  SELECT user_id, sanction_code FROM "user".sanction_active
   WHERE user_id = $3 AND sanction_code = $8 AND expires_at <= "user".from_epoch_us($1)
     FOR UPDATE
), due AS (
  SELECT user_id FROM "user".accounts WHERE user_id = $3 AND deleted_at IS NULL
))";

constexpr char kSanctionCandDue[] = R"(WITH cand AS (
  SELECT user_id, sanction_code FROM "user".sanction_active
   WHERE expires_at <= "user".from_epoch_us($1)
   ORDER BY expires_at LIMIT $3
     FOR UPDATE SKIP LOCKED
), due AS (
  SELECT a.user_id FROM "user".accounts a WHERE a.user_id IN (SELECT user_id FROM cand)
     FOR UPDATE OF a SKIP LOCKED
))";

constexpr char kSanctionExpireBody[] = R"(, gone AS (
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
SELECT count(*) FROM num)";

constexpr char kLimitCandForUser[] = R"(WITH cand AS (
  SELECT user_id, limit_code FROM "user".limit_active
   WHERE user_id = $3 AND limit_code = $7 AND expires_at <= "user".from_epoch_us($1)
     FOR UPDATE
), due AS (
  SELECT user_id FROM "user".accounts WHERE user_id = $3 AND deleted_at IS NULL
))";

constexpr char kLimitCandDue[] = R"(WITH cand AS (
  SELECT user_id, limit_code FROM "user".limit_active
   WHERE expires_at <= "user".from_epoch_us($1)
   ORDER BY expires_at LIMIT $3
     FOR UPDATE SKIP LOCKED
), due AS (
  SELECT a.user_id FROM "user".accounts a WHERE a.user_id IN (SELECT user_id FROM cand)
     FOR UPDATE OF a SKIP LOCKED
))";

constexpr char kLimitExpireBody[] = R"(, gone AS (
  DELETE FROM "user".limit_active l
   USING cand c, due d
   WHERE l.user_id = c.user_id AND l.limit_code = c.limit_code AND d.user_id = c.user_id
  RETURNING l.user_id, l.limit_code, l.expires_at
), num AS (
  SELECT g.*, row_number() OVER (ORDER BY g.user_id, g.limit_code) AS n FROM gone g
), rec AS (
  INSERT INTO "user".limit_records (user_id, kind, limit_code, value, expires_at, reason_code,
                                    actor_type, actor_id, recorded_at)
  SELECT user_id, 'expire', limit_code, NULL::integer, expires_at, $4::text, $5::text, $6::text,
         "user".from_epoch_us($1)
    FROM num ORDER BY n
), evt AS (
  INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at, payload)
  SELECT ($2::text[])[n], 'domain', 'user.limit.changed', user_id, "user".from_epoch_us($1),
         json_build_object('user_id', user_id, 'kind', 'expire', 'limit_code', limit_code,
                           'value', NULL::integer, 'expires_at', "user".rfc3339(expires_at),
                           'reason_code', $4::text,
                           'actor', json_build_object('type', $5::text, 'id', $6::text))::text
    FROM num ORDER BY n
)
SELECT count(*) FROM num)";

constexpr auto kExpireEntitlementForUserSql = join(kEntitlementCandForUser, kEntitlementExpireBody);
constexpr auto kExpireSanctionForUserSql = join(kSanctionCandForUser, kSanctionExpireBody);
constexpr auto kExpireLimitForUserSql = join(kLimitCandForUser, kLimitExpireBody);
constexpr auto kSweepEntitlementsSql = join(kEntitlementCandDue, kEntitlementExpireBody);
constexpr auto kSweepSanctionsSql = join(kSanctionCandDue, kSanctionExpireBody);
constexpr auto kSweepLimitsSql = join(kLimitCandDue, kLimitExpireBody);

// ---- Commands ---------------------------------------------------------------------------
// Parameters shared by every command statement: $1 user, $2 now (epoch µs), $3 record kind,
// $4 reason_code, $5 actor type, $6 actor id, $7 event id, $8 trace id ('' = none); the
// command's own values follow from $9. Each answers one row: (accounts found, rows changed,
// ...). Zero rows changed on a live account is the command's conflict.

constexpr char kAcc[] = R"(WITH acc AS (
  SELECT user_id FROM "user".accounts WHERE user_id = $1 AND deleted_at IS NULL
))";

constexpr char kEntitlementPrev[] = R"(, prev AS (
  SELECT e.plan_code, e.is_paid, e.starts_at, e.ends_at
    FROM "user".entitlement_snapshots e JOIN acc USING (user_id)
))";

// $9 plan, $10 is_paid, $11 starts_at, $12 ends_at (NULL: none), $13 source.
constexpr char kGrantPut[] = R"(, put AS (
  INSERT INTO "user".entitlement_snapshots AS e (user_id, plan_code, is_paid, starts_at, ends_at,
                                                 source, updated_at)
  SELECT user_id, $9::text, $10::boolean, "user".from_epoch_us($11), "user".from_epoch_us($12),
         $13::text, "user".from_epoch_us($2)
    FROM acc
  ON CONFLICT (user_id) DO UPDATE
     SET plan_code = EXCLUDED.plan_code, is_paid = EXCLUDED.is_paid,
         starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, source = EXCLUDED.source,
         updated_at = EXCLUDED.updated_at
  RETURNING e.user_id, e.plan_code, e.is_paid, e.starts_at, e.ends_at, e.source
))";

// $9 new ends_at, $10 source. Same condition as domain::extend_conflict.
constexpr char kExtendPut[] = R"(, put AS (
  UPDATE "user".entitlement_snapshots e
     SET ends_at = "user".from_epoch_us($9), source = $10::text,
         updated_at = "user".from_epoch_us($2)
    FROM acc
   WHERE e.user_id = acc.user_id AND e.is_paid AND e.ends_at > "user".from_epoch_us($2)
     AND e.ends_at < "user".from_epoch_us($9)
  RETURNING e.user_id, e.plan_code, e.is_paid, e.starts_at, e.ends_at, e.source
))";

// $9 the free plan. Same condition as domain::revoke_conflict.
constexpr char kRevokePut[] = R"(, put AS (
  UPDATE "user".entitlement_snapshots e
     SET plan_code = $9::text, is_paid = false, starts_at = "user".from_epoch_us($2),
         ends_at = NULL, source = NULL, updated_at = "user".from_epoch_us($2)
    FROM acc
   WHERE e.user_id = acc.user_id AND e.plan_code <> $9::text
  RETURNING e.user_id, e.plan_code, e.is_paid, e.starts_at, e.ends_at, e.source
))";

constexpr char kEntitlementTail[] = R"(, rec AS (
  INSERT INTO "user".entitlement_records (user_id, kind, plan_code, is_paid, starts_at, ends_at,
                                          source, reason_code, actor_type, actor_id, recorded_at)
  SELECT user_id, $3::text, plan_code, is_paid, starts_at, ends_at, source, $4::text, $5::text,
         $6::text, "user".from_epoch_us($2)
    FROM put
), evt AS (
  INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at, payload,
                                   traceparent)
  SELECT $7::text, 'domain', 'user.entitlement.changed', p.user_id, "user".from_epoch_us($2),
         json_build_object(
           'user_id', p.user_id, 'kind', $3::text, 'plan_code', p.plan_code,
           'is_paid', p.is_paid, 'starts_at', "user".rfc3339(p.starts_at),
           'ends_at', "user".rfc3339(p.ends_at), 'source', p.source, 'reason_code', $4::text,
           'actor', json_build_object('type', $5::text, 'id', $6::text),
           'previous', CASE WHEN prev.plan_code IS NOT NULL THEN
             json_build_object('plan_code', prev.plan_code, 'is_paid', prev.is_paid,
                               'starts_at', "user".rfc3339(prev.starts_at),
                               'ends_at', "user".rfc3339(prev.ends_at)) END)::text,
         NULLIF($8::text, '')
    FROM put p LEFT JOIN prev ON true
)
SELECT (SELECT count(*) FROM acc), (SELECT count(*) FROM put), prev.plan_code, prev.is_paid,
       "user".epoch_us(prev.starts_at), "user".epoch_us(prev.ends_at)
  FROM (SELECT 1) AS one LEFT JOIN prev ON true)";

// $9 sanction, $10 lifecycle event id (NULL: the sanction has none), $11 expires_at.
// A re-apply replaces the whole active row: it always describes the latest apply record.
constexpr char kApplySanctionPut[] = R"(, put AS (
  INSERT INTO "user".sanction_active AS s (user_id, sanction_code, reason_code, actor_type,
                                           actor_id, applied_at, expires_at)
  SELECT user_id, $9::text, $4::text, $5::text, $6::text, "user".from_epoch_us($2),
         "user".from_epoch_us($11)
    FROM acc
  ON CONFLICT (user_id, sanction_code) DO UPDATE
     SET reason_code = EXCLUDED.reason_code, actor_type = EXCLUDED.actor_type,
         actor_id = EXCLUDED.actor_id, applied_at = EXCLUDED.applied_at,
         expires_at = EXCLUDED.expires_at
  RETURNING s.user_id, s.sanction_code, s.expires_at, true AS active
))";

// $9 sanction, $10 lifecycle event id.
constexpr char kRemoveSanctionPut[] = R"(, put AS (
  DELETE FROM "user".sanction_active s USING acc
   WHERE s.user_id = acc.user_id AND s.sanction_code = $9::text
     AND (s.expires_at IS NULL OR s.expires_at > "user".from_epoch_us($2))
  RETURNING s.user_id, s.sanction_code, NULL::timestamptz AS expires_at, false AS active
))";

constexpr char kSanctionTail[] = R"(, rec AS (
  INSERT INTO "user".sanction_records (user_id, kind, sanction_code, expires_at, reason_code,
                                       actor_type, actor_id, recorded_at)
  SELECT user_id, $3::text, sanction_code, expires_at, $4::text, $5::text, $6::text,
         "user".from_epoch_us($2)
    FROM put
), evt AS (
  INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at, payload,
                                   traceparent)
  SELECT event_id, stream, event_type, user_id, "user".from_epoch_us($2), payload,
         NULLIF($8::text, '')
    FROM (
      SELECT $7::text AS event_id, 'domain' AS stream, 'user.sanction.changed' AS event_type,
             user_id, 0 AS k,
             json_build_object('user_id', user_id, 'kind', $3::text,
                               'sanction_code', sanction_code, 'active', active,
                               'expires_at', "user".rfc3339(expires_at), 'reason_code', $4::text,
                               'actor', json_build_object('type', $5::text, 'id', $6::text))::text
               AS payload
        FROM put
      UNION ALL
      SELECT $10::text, 'lifecycle',
             CASE WHEN active THEN 'user.login_blocked' ELSE 'user.login_unblocked' END,
             user_id, 1,
             json_build_object('user_id', user_id, 'kind', $3::text,
                               'expires_at', "user".rfc3339(expires_at), 'reason_code', $4::text,
                               'actor', json_build_object('type', $5::text, 'id', $6::text))::text
        FROM put WHERE $10::text IS NOT NULL
    ) x
   ORDER BY k
)
SELECT (SELECT count(*) FROM acc), (SELECT count(*) FROM put))";

// $9 limit, $10 value, $11 expires_at. A set replaces the whole active row.
constexpr char kSetLimitPut[] = R"(, put AS (
  INSERT INTO "user".limit_active AS l (user_id, limit_code, value, reason_code, actor_type,
                                        actor_id, applied_at, expires_at)
  SELECT user_id, $9::text, $10::integer, $4::text, $5::text, $6::text,
         "user".from_epoch_us($2), "user".from_epoch_us($11)
    FROM acc
  ON CONFLICT (user_id, limit_code) DO UPDATE
     SET value = EXCLUDED.value, reason_code = EXCLUDED.reason_code,
         actor_type = EXCLUDED.actor_type, actor_id = EXCLUDED.actor_id,
         applied_at = EXCLUDED.applied_at, expires_at = EXCLUDED.expires_at
  RETURNING l.user_id, l.limit_code, l.value, l.expires_at
))";

// $9 limit.
constexpr char kRemoveLimitPut[] = R"(, put AS (
  DELETE FROM "user".limit_active l USING acc
   WHERE l.user_id = acc.user_id AND l.limit_code = $9::text
     AND (l.expires_at IS NULL OR l.expires_at > "user".from_epoch_us($2))
  RETURNING l.user_id, l.limit_code, NULL::integer AS value, NULL::timestamptz AS expires_at
))";

constexpr char kLimitTail[] = R"(, rec AS (
  INSERT INTO "user".limit_records (user_id, kind, limit_code, value, expires_at, reason_code,
                                    actor_type, actor_id, recorded_at)
  SELECT user_id, $3::text, limit_code, value, expires_at, $4::text, $5::text, $6::text,
         "user".from_epoch_us($2)
    FROM put
), evt AS (
  INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at, payload,
                                   traceparent)
  SELECT $7::text, 'domain', 'user.limit.changed', user_id, "user".from_epoch_us($2),
         json_build_object('user_id', user_id, 'kind', $3::text, 'limit_code', limit_code,
                           'value', value, 'expires_at', "user".rfc3339(expires_at),
                           'reason_code', $4::text,
                           'actor', json_build_object('type', $5::text, 'id', $6::text))::text,
         NULLIF($8::text, '')
    FROM put
)
SELECT (SELECT count(*) FROM acc), (SELECT count(*) FROM put))";

constexpr auto kGrantSql = join(kAcc, kEntitlementPrev, kGrantPut, kEntitlementTail);
constexpr auto kExtendSql = join(kAcc, kEntitlementPrev, kExtendPut, kEntitlementTail);
constexpr auto kRevokeSql = join(kAcc, kEntitlementPrev, kRevokePut, kEntitlementTail);
constexpr auto kApplySanctionSql = join(kAcc, kApplySanctionPut, kSanctionTail);
constexpr auto kRemoveSanctionSql = join(kAcc, kRemoveSanctionPut, kSanctionTail);
constexpr auto kSetLimitSql = join(kAcc, kSetLimitPut, kLimitTail);
constexpr auto kRemoveLimitSql = join(kAcc, kRemoveLimitPut, kLimitTail);
constexpr auto kCommandAccountStateSql = concat(kAccountStateSelect, "WHERE a.user_id = $1");

// ---- History ----------------------------------------------------------------------------
// Keyset pages over (user_id, record_id DESC), the history tables' index.
constexpr char kEntitlementHistorySql[] =
    R"(SELECT record_id, kind, reason_code, actor_type, actor_id, "user".epoch_us(recorded_at),
       plan_code, is_paid, "user".epoch_us(starts_at), "user".epoch_us(ends_at), source
  FROM "user".entitlement_records WHERE user_id = $1 AND record_id < $2
 ORDER BY record_id DESC LIMIT $3)";
constexpr char kSanctionHistorySql[] =
    R"(SELECT record_id, kind, reason_code, actor_type, actor_id, "user".epoch_us(recorded_at),
       sanction_code, "user".epoch_us(expires_at)
  FROM "user".sanction_records WHERE user_id = $1 AND record_id < $2
 ORDER BY record_id DESC LIMIT $3)";
constexpr char kLimitHistorySql[] =
    R"(SELECT record_id, kind, reason_code, actor_type, actor_id, "user".epoch_us(recorded_at),
       limit_code, value, "user".epoch_us(expires_at)
  FROM "user".limit_records WHERE user_id = $1 AND record_id < $2
 ORDER BY record_id DESC LIMIT $3)";

}  // namespace

constexpr Statement kExpireEntitlementForUser{"expire_entitlement_for_user",
                                              kExpireEntitlementForUserSql.view(), Access::write};
constexpr Statement kExpireSanctionForUser{"expire_sanction_for_user",
                                           kExpireSanctionForUserSql.view(), Access::write};
constexpr Statement kExpireLimitForUser{"expire_limit_for_user", kExpireLimitForUserSql.view(), Access::write};
constexpr Statement kSweepEntitlements{"sweep_entitlements", kSweepEntitlementsSql.view(), Access::write};
constexpr Statement kSweepSanctions{"sweep_sanctions", kSweepSanctionsSql.view(), Access::write};
constexpr Statement kSweepLimits{"sweep_limits", kSweepLimitsSql.view(), Access::write};
constexpr Statement kGrantEntitlement{"grant_entitlement", kGrantSql.view(), Access::write};
constexpr Statement kExtendEntitlement{"extend_entitlement", kExtendSql.view(), Access::write};
constexpr Statement kRevokeEntitlement{"revoke_entitlement", kRevokeSql.view(), Access::write};
constexpr Statement kApplySanction{"apply_sanction", kApplySanctionSql.view(), Access::write};
constexpr Statement kRemoveSanction{"remove_sanction", kRemoveSanctionSql.view(), Access::write};
constexpr Statement kSetLimit{"set_limit", kSetLimitSql.view(), Access::write};
constexpr Statement kRemoveLimit{"remove_limit", kRemoveLimitSql.view(), Access::write};
constexpr Statement kCommandAccountState{"command_account_state", kCommandAccountStateSql.view()};
constexpr Statement kAccountKnown{
    "history_account_known", R"(SELECT EXISTS (SELECT 1 FROM "user".accounts WHERE user_id = $1))"};
constexpr Statement kEntitlementHistory{"entitlement_history", kEntitlementHistorySql};
constexpr Statement kSanctionHistory{"sanction_history", kSanctionHistorySql};
constexpr Statement kLimitHistory{"limit_history", kLimitHistorySql};

}  // namespace sql

// ---- Parameters and decoding ------------------------------------------------------------
namespace {

Param opt_us(const std::optional<TimePoint>& tp) {
  if (!tp) return std::nullopt;
  return us_param(*tp);
}

// PostgreSQL array literal of minted event ids ([a-z0-9-]: quoting is enough).
std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    out += items[i];
    out += '"';
  }
  out += '}';
  return out;
}

// $1..$6 of the expiry statements.
Params expiry_params(TimePoint now, const std::vector<std::string>& event_ids,
                     std::string subject) {
  return Params{us_param(now),
                text_array(event_ids),
                std::move(subject),
                std::string(domain::kExpiryReasonCode),
                std::string(domain::kExpiryActorType),
                std::string(domain::kExpiryActorId)};
}

// $1..$8 of the command statements.
Params command_params(std::string_view user_id, std::string_view kind,
                      const services::CommandMeta& meta, const services::CommandEvents& events) {
  return Params{std::string(user_id),  us_param(events.event.occurred_at),
                std::string(kind),     meta.reason_code,
                meta.actor.type,       meta.actor.id,
                events.event.event_id, events.event.traceparent};
}

std::optional<domain::Entitlement> decode_prior_entitlement(const Result& r) {
  if (r.rows() == 0 || r.columns() < 6 || r.is_null(0, 2)) return std::nullopt;
  return domain::Entitlement{std::string(r.get(0, 2)), r.get(0, 3) == "t", time_at(r, 0, 4),
                             opt_time_at(r, 0, 5)};
}

services::RecordInfo decode_record_info(const Result& r, int row) {
  return services::RecordInfo{
      to_int(r.get(row, 0)), std::string(r.get(row, 1)), std::string(r.get(row, 2)),
      domain::Actor{std::string(r.get(row, 3)), std::string(r.get(row, 4))}, time_at(r, row, 5)};
}

// ---- Commands ----------------------------------------------------------------------------

// The four statements of a command (see the header), one round trip.
// Arguments are named locals of the caller: g++ 12 mishandles some temporaries (braced
// initialisers in particular) inside co_await expressions.
boost::asio::awaitable<CommandResult> run_command(Pool& pool, const RequestContext& ctx,
                                                  std::string_view user_id, const Query& expire,
                                                  const Query& command) {
  std::vector<Query> queries;
  queries.push_back({&kLockLiveAccount, Params{std::string(user_id)}});
  queries.push_back(expire);
  queries.push_back(command);
  queries.push_back({&sql::kCommandAccountState, Params{std::string(user_id)}});
  std::vector<Result> results = co_await pool.pipeline(std::move(queries), ctx);
  CommandResult out;
  const Result& cmd = results.at(2);
  if (results.at(0).rows() == 0 || cmd.rows() == 0 || cmd.get(0, 0) == "0") co_return out;
  out.outcome = cmd.get(0, 1) == "0" ? CommandOutcome::conflict : CommandOutcome::applied;
  out.prior_entitlement = decode_prior_entitlement(cmd);
  out.state = first_account(results.at(3));
  if (!out.state) throw std::runtime_error("account vanished while its row lock was held");
  co_return out;
}

Query expire_entitlement_query(const services::CommandEvents& events, std::string_view user_id) {
  Params p = expiry_params(events.event.occurred_at, events.expiry_event_ids, std::string(user_id));
  p.push_back(std::string(domain::kFreePlan));
  return {&sql::kExpireEntitlementForUser, std::move(p)};
}

Query expire_sanction_query(const services::CommandEvents& events, std::string_view user_id,
                            std::string_view code) {
  Params p = expiry_params(events.event.occurred_at, events.expiry_event_ids, std::string(user_id));
  p.push_back(std::string(domain::kLoginBlock));
  p.push_back(std::string(code));
  return {&sql::kExpireSanctionForUser, std::move(p)};
}

Query expire_limit_query(const services::CommandEvents& events, std::string_view user_id,
                         std::string_view code) {
  Params p = expiry_params(events.event.occurred_at, events.expiry_event_ids, std::string(user_id));
  p.push_back(std::string(code));
  return {&sql::kExpireLimitForUser, std::move(p)};
}

Param lifecycle_id(const services::CommandEvents& events) {
  if (events.lifecycle_event_id.empty()) return std::nullopt;
  return events.lifecycle_event_id;
}

}  // namespace

boost::asio::awaitable<CommandResult> PgCommandStore::grant_entitlement(
    const RequestContext& ctx, std::string_view user_id, const domain::Entitlement& e,
    std::string_view source, const services::CommandMeta& meta,
    const services::CommandEvents& events) {
  Params p = command_params(user_id, "grant", meta, events);
  p.push_back(e.plan_code);
  p.push_back(std::string(e.is_paid ? "true" : "false"));
  p.push_back(us_param(e.starts_at));
  p.push_back(opt_us(e.ends_at));
  p.push_back(std::string(source));
  const Query expire = expire_entitlement_query(events, user_id);
  const Query command{&sql::kGrantEntitlement, std::move(p)};
  CommandResult r = co_await run_command(primary_, ctx, user_id, expire, command);
  co_return r;
}

boost::asio::awaitable<CommandResult> PgCommandStore::extend_entitlement(
    const RequestContext& ctx, std::string_view user_id, TimePoint ends_at, std::string_view source,
    const services::CommandMeta& meta, const services::CommandEvents& events) {
  Params p = command_params(user_id, "extend", meta, events);
  p.push_back(us_param(ends_at));
  p.push_back(std::string(source));
  const Query expire = expire_entitlement_query(events, user_id);
  const Query command{&sql::kExtendEntitlement, std::move(p)};
  CommandResult r = co_await run_command(primary_, ctx, user_id, expire, command);
  co_return r;
}

boost::asio::awaitable<CommandResult> PgCommandStore::revoke_entitlement(
    const RequestContext& ctx, std::string_view user_id, const services::CommandMeta& meta,
    const services::CommandEvents& events) {
  Params p = command_params(user_id, "revoke", meta, events);
  p.push_back(std::string(domain::kFreePlan));
  const Query expire = expire_entitlement_query(events, user_id);
  const Query command{&sql::kRevokeEntitlement, std::move(p)};
  CommandResult r = co_await run_command(primary_, ctx, user_id, expire, command);
  co_return r;
}

boost::asio::awaitable<CommandResult> PgCommandStore::apply_sanction(
    const RequestContext& ctx, std::string_view user_id, std::string_view code,
    std::optional<TimePoint> expires_at, const services::CommandMeta& meta,
    const services::CommandEvents& events) {
  Params p = command_params(user_id, "apply", meta, events);
  p.push_back(std::string(code));
  p.push_back(lifecycle_id(events));
  p.push_back(opt_us(expires_at));
  const Query expire = expire_sanction_query(events, user_id, code);
  const Query command{&sql::kApplySanction, std::move(p)};
  CommandResult r = co_await run_command(primary_, ctx, user_id, expire, command);
  co_return r;
}

boost::asio::awaitable<CommandResult> PgCommandStore::remove_sanction(
    const RequestContext& ctx, std::string_view user_id, std::string_view code,
    const services::CommandMeta& meta, const services::CommandEvents& events) {
  Params p = command_params(user_id, "remove", meta, events);
  p.push_back(std::string(code));
  p.push_back(lifecycle_id(events));
  const Query expire = expire_sanction_query(events, user_id, code);
  const Query command{&sql::kRemoveSanction, std::move(p)};
  CommandResult r = co_await run_command(primary_, ctx, user_id, expire, command);
  co_return r;
}

boost::asio::awaitable<CommandResult> PgCommandStore::set_limit(
    const RequestContext& ctx, std::string_view user_id, std::string_view code, std::int64_t value,
    std::optional<TimePoint> expires_at, const services::CommandMeta& meta,
    const services::CommandEvents& events) {
  Params p = command_params(user_id, "set", meta, events);
  p.push_back(std::string(code));
  p.push_back(std::to_string(value));
  p.push_back(opt_us(expires_at));
  const Query expire = expire_limit_query(events, user_id, code);
  const Query command{&sql::kSetLimit, std::move(p)};
  CommandResult r = co_await run_command(primary_, ctx, user_id, expire, command);
  co_return r;
}

boost::asio::awaitable<CommandResult> PgCommandStore::remove_limit(
    const RequestContext& ctx, std::string_view user_id, std::string_view code,
    const services::CommandMeta& meta, const services::CommandEvents& events) {
  Params p = command_params(user_id, "remove", meta, events);
  p.push_back(std::string(code));
  const Query expire = expire_limit_query(events, user_id, code);
  const Query command{&sql::kRemoveLimit, std::move(p)};
  CommandResult r = co_await run_command(primary_, ctx, user_id, expire, command);
  co_return r;
}

// ---- History ----------------------------------------------------------------------------

namespace {

// Whether the account exists (soft-deleted included) and the page, in one round trip.
// A first page (no cursor yet) may come from a replica; a later one comes from the primary:
// a replica further behind than the page before could miss records older than its cursor.
boost::asio::awaitable<std::optional<Result>> history_page(Pool& pool, ReadSources* replicas,
                                                           const RequestContext& ctx,
                                                           const Statement& statement,
                                                           std::string_view user_id,
                                                           std::int64_t before, int limit) {
  std::vector<Query> queries;
  queries.push_back({&sql::kAccountKnown, Params{std::string(user_id)}});
  queries.push_back(
      {&statement, Params{std::string(user_id), std::to_string(before), std::to_string(limit)}});
  const bool first_page = before == std::numeric_limits<std::int64_t>::max();
  std::vector<Result> results;  // (no co_await inside ?: — g++ 12 miscompiles it)
  if (replicas != nullptr && first_page) {
    results = co_await replicas->pipeline(std::move(queries), ctx);
  } else {
    results = co_await pool.pipeline(std::move(queries), ctx);
  }
  if (results.at(0).rows() == 0 || results.at(0).get(0, 0) != "t") co_return std::nullopt;
  co_return std::move(results.at(1));
}

}  // namespace

boost::asio::awaitable<services::HistorySlice<services::EntitlementRecord>>
PgCommandStore::entitlement_history(const RequestContext& ctx, std::string_view user_id,
                                    std::int64_t before, int limit) {
  auto r = co_await history_page(primary_, history_, ctx, sql::kEntitlementHistory, user_id, before, limit);
  if (!r) co_return std::nullopt;
  std::vector<services::EntitlementRecord> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({decode_record_info(*r, i),
                   domain::Entitlement{std::string(r->get(i, 6)), r->get(i, 7) == "t",
                                       time_at(*r, i, 8), opt_time_at(*r, i, 9)},
                   opt_string_at(*r, i, 10)});
  }
  co_return out;
}

boost::asio::awaitable<services::HistorySlice<services::SanctionRecord>>
PgCommandStore::sanction_history(const RequestContext& ctx, std::string_view user_id,
                                 std::int64_t before, int limit) {
  auto r = co_await history_page(primary_, history_, ctx, sql::kSanctionHistory, user_id, before, limit);
  if (!r) co_return std::nullopt;
  std::vector<services::SanctionRecord> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({decode_record_info(*r, i), std::string(r->get(i, 6)), opt_time_at(*r, i, 7)});
  }
  co_return out;
}

boost::asio::awaitable<services::HistorySlice<services::LimitRecord>> PgCommandStore::limit_history(
    const RequestContext& ctx, std::string_view user_id, std::int64_t before, int limit) {
  auto r = co_await history_page(primary_, history_, ctx, sql::kLimitHistory, user_id, before, limit);
  if (!r) co_return std::nullopt;
  std::vector<services::LimitRecord> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) {
    std::optional<std::int64_t> value;
    if (!r->is_null(i, 7)) value = to_int(r->get(i, 7));
    out.push_back(
        {decode_record_info(*r, i), std::string(r->get(i, 6)), value, opt_time_at(*r, i, 8)});
  }
  co_return out;
}

// ---- Sweeper ----------------------------------------------------------------------------

boost::asio::awaitable<int> PgCommandStore::expire_due(const RequestContext& ctx, ExpiryKind kind,
                                                       TimePoint now, int batch,
                                                       const std::vector<std::string>& event_ids) {
  Params p = expiry_params(now, event_ids, std::to_string(batch));
  const Statement* statement = nullptr;
  switch (kind) {
    case ExpiryKind::entitlements:
      statement = &sql::kSweepEntitlements;
      p.push_back(std::string(domain::kFreePlan));
      break;
    case ExpiryKind::sanctions:
      statement = &sql::kSweepSanctions;
      p.push_back(std::string(domain::kLoginBlock));
      break;
    case ExpiryKind::limits:
      statement = &sql::kSweepLimits;
      break;
  }
  Result r = co_await primary_.query(*statement, std::move(p), ctx);
  co_return r.rows() == 1 ? static_cast<int>(to_int(r.get(0, 0))) : 0;
}

}  // namespace userservice::postgres

// ---- Tooling ----------------------------------------------------------------------------
namespace userservice::postgres {

// For `userservice --print-statements` (statements.h): every statement of this file. A new
// statement above belongs in this list too.
std::vector<const Statement*> command_store_statements() {
  using namespace sql;
  return {&kLockLiveAccount,
          &kExpireEntitlementForUser,
          &kExpireSanctionForUser,
          &kExpireLimitForUser,
          &kSweepEntitlements,
          &kSweepSanctions,
          &kSweepLimits,
          &kGrantEntitlement,
          &kExtendEntitlement,
          &kRevokeEntitlement,
          &kApplySanction,
          &kRemoveSanction,
          &kSetLimit,
          &kRemoveLimit,
          &kCommandAccountState,
          &kAccountKnown,
          &kEntitlementHistory,
          &kSanctionHistory,
          &kLimitHistory};
}

}  // namespace userservice::postgres
