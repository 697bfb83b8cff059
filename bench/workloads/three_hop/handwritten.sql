-- ShipmentCard as a Flink expert would write it: three left joins, plain column reads.
SELECT
  s.doc_id,
  w.name AS warehouse,
  ci.name AS city,
  co.name AS country,
  ci.name || ', ' || co.code AS destination,
  co.eu AS eu,
  s.weight > 20 AS heavy
FROM th_shipments AS s
LEFT JOIN th_warehouses AS w ON w.doc_id = s.warehouse
LEFT JOIN th_cities AS ci ON ci.doc_id = w.city
LEFT JOIN th_countries AS co ON co.doc_id = ci.country
