-- fragment: listing_page_head
-- composed: src/adapters/postgres/listing_store.cpp (the admin listing's shapes, at run time)
--
-- The page's keys, first line. {d}: the driving table's alias.

WITH page AS (
  SELECT {d}.user_id
