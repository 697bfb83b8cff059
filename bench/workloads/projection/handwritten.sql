-- OrderCard as a Flink expert would write it over the same source tables.
SELECT
  o.doc_id,
  c.name AS customer_name,
  CASE WHEN c.doc_id IS NULL THEN CAST(NULL AS STRING) ELSE COALESCE(NULLIF(c.email, ''), 'no email') END AS contact,
  c.vip AS vip,
  UPPER(c.country) AS country,
  UPPER(o.status) AS status_label,
  CASE WHEN o.discount IS NULL THEN o.amount ELSE o.amount * (1 - o.discount) END AS total,
  o.amount > 100 AND c.vip AS big
FROM pj_orders AS o
LEFT JOIN pj_customers AS c ON c.doc_id = o.customer
WHERE o.status <> 'draft'
