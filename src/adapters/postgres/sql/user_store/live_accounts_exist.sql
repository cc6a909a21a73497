-- name: live_accounts_exist
-- access: read
--
-- The set form of live_account_exists, for read coalescing: each caller gets the row whose
-- key (column 1) is its own.
-- $1 user ids (text[] literal, distinct)
-- Returns: one row per id: (exists as a live account: bool, user_id).

SELECT EXISTS (SELECT 1 FROM "user".accounts a
                        WHERE a.user_id = i.user_id AND a.deleted_at IS NULL), i.user_id
         FROM unnest($1::text[]) AS i(user_id)
