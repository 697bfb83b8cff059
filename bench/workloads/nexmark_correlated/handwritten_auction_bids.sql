-- AuctionBids as a Flink expert would write it: one aggregate over the bids joined with their
-- auction (for the initial bid) and with the best price per auction (an aggregate joined back).
SELECT
  a.doc_id,
  COALESCE(s.valid_bids, 0) AS valid_bids,
  COALESCE(s.top_bids, 0) AS top_bids
FROM nx_auctions AS a
LEFT JOIN (
  SELECT
    b.auction,
    COUNT(*) FILTER (WHERE b.price >= a2.initial_bid) AS valid_bids,
    COUNT(*) FILTER (WHERE b.price = m.top) AS top_bids
  FROM nx_bids AS b
  JOIN nx_auctions AS a2 ON a2.doc_id = b.auction
  JOIN (SELECT auction, MAX(price) AS top FROM nx_bids GROUP BY auction) AS m ON m.auction = b.auction
  GROUP BY b.auction
) AS s ON s.auction = a.doc_id
