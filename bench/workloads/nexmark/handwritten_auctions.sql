-- LocalAuction as a Flink expert would write it (Nexmark Q3's join and filter).
SELECT
  a.doc_id,
  a.item_name AS item_name,
  p.name AS seller_name,
  p.city AS city,
  p.state AS state
FROM nx_auctions AS a
JOIN nx_persons AS p ON p.doc_id = a.seller
WHERE p.state IN ('OR', 'ID', 'CA')
