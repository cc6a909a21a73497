-- fragment: listing_join_page
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- After account_state_select: only the page's accounts, newest first.

JOIN page p ON p.user_id = a.user_id
 ORDER BY a.created_at DESC, a.user_id DESC
