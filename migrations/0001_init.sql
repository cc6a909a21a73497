-- 0001: the "user" schema: accounts, blocked emails, entitlements, sanctions, limits,
-- and the event outbox. Forward-only; applied by the service at startup under an
-- advisory lock (src/adapters/postgres/migrations.cpp).
--
-- Catalog values (plan, sanction and limit codes) are validated by the domain layer,
-- not by CHECK constraints, so that extending a catalog is a code change only.
-- History tables are append-only; the *_active / *_snapshots tables are the current
-- state, kept consistent with the history in the same transaction.

CREATE SCHEMA IF NOT EXISTS "user";

-- api.md §1 output form of every timestamp: RFC 3339, UTC, milliseconds, "Z".
CREATE FUNCTION "user".rfc3339(ts timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');

-- Timestamps cross the driver boundary as integer microseconds since the Unix epoch:
-- exact in both directions and cheap to parse.
CREATE FUNCTION "user".epoch_us(ts timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (extract(epoch FROM ts) * 1000000)::bigint;
CREATE FUNCTION "user".from_epoch_us(us bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN 'epoch'::timestamptz + us * interval '1 microsecond';

CREATE TABLE "user".accounts (
    user_id            text        PRIMARY KEY,
    email              text        NOT NULL,
    user_name          text        NOT NULL,
    preferred_language text        NOT NULL DEFAULT 'en',
    time_zone          text        NOT NULL DEFAULT 'UTC',
    declared_country   text        NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz NULL,
    -- Who soft-deleted the account and why (api.md §8 delete: reason_code, actor).
    deleted_reason_code text       NULL,
    deleted_actor_type  text       NULL,
    deleted_actor_id    text       NULL,
    CONSTRAINT accounts_email_key UNIQUE (email),
    CONSTRAINT accounts_email_normalised CHECK (email = lower(email)),
    CONSTRAINT accounts_declared_country_format CHECK (declared_country ~ '^[A-Z]{2}$')
);
-- User names are unique case-insensitively across all accounts, deleted ones included.
CREATE UNIQUE INDEX accounts_user_name_key ON "user".accounts (lower(user_name));
-- Listing: newest first, keyset over (created_at, user_id).
CREATE INDEX accounts_listing_idx ON "user".accounts (created_at DESC, user_id DESC);
CREATE INDEX accounts_declared_country_idx
    ON "user".accounts (declared_country, created_at DESC, user_id DESC)
    WHERE declared_country IS NOT NULL;

CREATE TABLE "user".blocked_emails (
    email       text        PRIMARY KEY,
    reason_code text        NOT NULL,
    actor_type  text        NOT NULL,
    actor_id    text        NOT NULL,
    blocked_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT blocked_emails_email_normalised CHECK (email = lower(email))
);

-- Entitlements: append-only history plus one current row per user.
CREATE TABLE "user".entitlement_records (
    record_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     text        NOT NULL REFERENCES "user".accounts (user_id),
    kind        text        NOT NULL CHECK (kind IN ('grant', 'extend', 'revoke', 'expire')),
    plan_code   text        NOT NULL,
    is_paid     boolean     NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NULL,
    source      text        NULL,
    reason_code text        NOT NULL,
    actor_type  text        NOT NULL,
    actor_id    text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX entitlement_records_user_idx ON "user".entitlement_records (user_id, record_id DESC);

CREATE TABLE "user".entitlement_snapshots (
    user_id    text        PRIMARY KEY REFERENCES "user".accounts (user_id),
    plan_code  text        NOT NULL,
    is_paid    boolean     NOT NULL,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NULL,
    source     text        NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT entitlement_snapshots_period CHECK (ends_at IS NULL OR ends_at > starts_at)
);
CREATE INDEX entitlement_snapshots_plan_idx ON "user".entitlement_snapshots (plan_code, is_paid);
-- Serves both the paid_ends_before listing filter and the expiry sweeper.
CREATE INDEX entitlement_snapshots_paid_ends_idx
    ON "user".entitlement_snapshots (ends_at)
    WHERE is_paid AND ends_at IS NOT NULL;

-- Sanctions.
CREATE TABLE "user".sanction_records (
    record_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       text        NOT NULL REFERENCES "user".accounts (user_id),
    kind          text        NOT NULL CHECK (kind IN ('apply', 'remove', 'expire')),
    sanction_code text        NOT NULL,
    expires_at    timestamptz NULL,
    reason_code   text        NOT NULL,
    actor_type    text        NOT NULL,
    actor_id      text        NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX sanction_records_user_idx ON "user".sanction_records (user_id, record_id DESC);

CREATE TABLE "user".sanction_active (
    user_id       text        NOT NULL REFERENCES "user".accounts (user_id),
    sanction_code text        NOT NULL,
    reason_code   text        NOT NULL,
    actor_type    text        NOT NULL,
    actor_id      text        NOT NULL,
    applied_at    timestamptz NOT NULL,
    expires_at    timestamptz NULL,
    PRIMARY KEY (user_id, sanction_code)
);
CREATE INDEX sanction_active_code_idx ON "user".sanction_active (sanction_code);
CREATE INDEX sanction_active_expiry_idx ON "user".sanction_active (expires_at)
    WHERE expires_at IS NOT NULL;

-- Limits.
CREATE TABLE "user".limit_records (
    record_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     text        NOT NULL REFERENCES "user".accounts (user_id),
    kind        text        NOT NULL CHECK (kind IN ('set', 'remove', 'expire')),
    limit_code  text        NOT NULL,
    value       integer     NULL CHECK (value BETWEEN 0 AND 1000000),
    expires_at  timestamptz NULL,
    reason_code text        NOT NULL,
    actor_type  text        NOT NULL,
    actor_id    text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX limit_records_user_idx ON "user".limit_records (user_id, record_id DESC);

CREATE TABLE "user".limit_active (
    user_id     text        NOT NULL REFERENCES "user".accounts (user_id),
    limit_code  text        NOT NULL,
    value       integer     NOT NULL CHECK (value BETWEEN 0 AND 1000000),
    reason_code text        NOT NULL,
    actor_type  text        NOT NULL,
    actor_id    text        NOT NULL,
    applied_at  timestamptz NOT NULL,
    expires_at  timestamptz NULL,
    PRIMARY KEY (user_id, limit_code)
);
CREATE INDEX limit_active_code_idx ON "user".limit_active (limit_code);
CREATE INDEX limit_active_expiry_idx ON "user".limit_active (expires_at)
    WHERE expires_at IS NOT NULL;

-- Transactional outbox (api.md §10): every event is inserted in the transaction of the
-- change that causes it; the relay publishes rows in seq order and deletes them.
-- Mutations of one user serialise on that user's account row, so seq order is commit
-- order per user.
CREATE TABLE "user".event_outbox (
    seq         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    text        NOT NULL UNIQUE,
    stream      text        NOT NULL CHECK (stream IN ('domain', 'lifecycle')),
    event_type  text        NOT NULL,
    user_id     text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    payload     text        NOT NULL,  -- JSON text, published verbatim
    trace_id    text        NULL
);
CREATE INDEX event_outbox_user_idx ON "user".event_outbox (user_id, seq);
