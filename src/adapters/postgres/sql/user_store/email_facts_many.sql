-- name: email_facts_many
-- access: read
--
-- The set form of email_facts, for read coalescing: each caller gets the row whose key
-- (column 5) is its own.
-- $1 emails (text[] literal, distinct)
-- Returns: one row per email: email_facts' five columns, then the email.

SELECT b.reason_code, a.user_id, a.deleted_at IS NOT NULL,
              ls.sanction_code IS NOT NULL, "user".epoch_us(ls.expires_at), i.email
         FROM unnest($1::text[]) AS i(email)
         LEFT JOIN "user".blocked_emails b ON b.email = i.email
         LEFT JOIN "user".accounts a ON a.email = i.email
         LEFT JOIN "user".sanction_active ls
                ON ls.user_id = a.user_id AND ls.sanction_code = 'login_block'
