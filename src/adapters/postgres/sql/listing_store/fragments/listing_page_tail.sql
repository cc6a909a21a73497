-- fragment: listing_page_tail
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- The keyset order and the page size. {created}: the driver's created_at column; {d}: its
-- alias; {limit}: parameter.

ORDER BY {created} DESC, {d}.user_id DESC
   LIMIT {limit}
)
