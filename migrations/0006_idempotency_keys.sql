-- 0006: stored answers of requests sent with an Idempotency-Key (docs/api.md). A row is
-- inserted by the request's own transaction before its changes (the claim: a concurrent
-- request with the same key waits on the primary key, then finds the committed row) and
-- gets its answer in the same transaction, so the answer exists if and only if the changes
-- committed. The expiry sweeper deletes rows past expires_at.
CREATE TABLE "user".idempotency_keys (
    key         text        PRIMARY KEY,
    fingerprint text        NOT NULL,  -- hash of method, path and canonical JSON body
    status      int         NULL,      -- NULL only inside the claiming transaction
    body        text        NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX idempotency_keys_expires_idx ON "user".idempotency_keys (expires_at);
