-- name: live_profiles
-- access: read
--
-- $1 user ids (text[] literal)
-- Returns: (user_id, user_name, declared_country or NULL) of each live account among them.

SELECT user_id, user_name, declared_country FROM "user".accounts
        WHERE user_id = ANY($1::text[]) AND deleted_at IS NULL
