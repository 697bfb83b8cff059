-- CategoryBid as a Flink expert would write it: an inner join, the category filter on the auction side.
SELECT
  b.doc_id,
  a.doc_id AS auction,
  a.item_name AS item_name,
  b.bidder AS bidder,
  b.price AS price,
  b.price >= a.reserve AS above_reserve
FROM nx_bids AS b
JOIN nx_auctions AS a ON a.doc_id = b.auction
WHERE a.category = 10
