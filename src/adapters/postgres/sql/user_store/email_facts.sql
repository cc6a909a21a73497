-- name: email_facts
-- access: read
-- coalesced: email_facts_many
-- coalesced_key: 5
--
-- Everything resolution needs about an email (api.md §3), in one row.
-- $1 email (normalised)
-- Returns: one row: blocked reason_code or NULL, user_id or NULL, deleted (bool), has a
-- login_block (bool), the login block's expires_at (epoch µs) or NULL.

SELECT b.reason_code, a.user_id, a.deleted_at IS NOT NULL,
              ls.sanction_code IS NOT NULL, "user".epoch_us(ls.expires_at)
         FROM (SELECT $1::text AS email) i
         LEFT JOIN "user".blocked_emails b ON b.email = i.email
         LEFT JOIN "user".accounts a ON a.email = i.email
         LEFT JOIN "user".sanction_active ls
                ON ls.user_id = a.user_id AND ls.sanction_code = 'login_block'
