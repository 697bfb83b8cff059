-- The e2e_probe view as an expert would submit it by hand (bench part 4 runs it beside ontoc's job,
-- on the same cluster and topics, one job at a time). bench/e2e.py fills in {bootstrap}, the
-- {customers_topic}, {orders_topic} and {view_topic} of the run, and the {sink_guarantee} options.
-- Bad records are skipped by Flink's JSON format; the upsert-kafka sources keep the last row per key.
-- Not the same semantics as ontoc's view on every event: ROUND rounds half away from zero where
-- Python's round() rounds half to even (the label of an amount ending in .50 may differ by one), and
-- the format takes what ontoc's validator refuses (a string amount, a missing field as NULL).

CREATE TABLE customers (
  doc_id STRING,
  name STRING,
  tier STRING,
  PRIMARY KEY (doc_id) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = '{customers_topic}',
  'properties.bootstrap.servers' = '{bootstrap}',
  'key.format' = 'raw',
  'value.format' = 'json',
  'value.fields-include' = 'EXCEPT_KEY',
  'value.json.ignore-parse-errors' = 'true',
  'value.json.fail-on-missing-field' = 'false'
);

CREATE TABLE orders (
  doc_id STRING,
  customer STRING,
  amount DOUBLE,
  stamp DOUBLE,
  PRIMARY KEY (doc_id) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = '{orders_topic}',
  'properties.bootstrap.servers' = '{bootstrap}',
  'key.format' = 'raw',
  'value.format' = 'json',
  'value.fields-include' = 'EXCEPT_KEY',
  'value.json.ignore-parse-errors' = 'true',
  'value.json.fail-on-missing-field' = 'false'
);

CREATE TABLE order_views (
  doc_id STRING,
  stamp DOUBLE,
  customer STRING,
  label STRING,
  PRIMARY KEY (doc_id) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = '{view_topic}',
  'properties.bootstrap.servers' = '{bootstrap}',
  'key.format' = 'raw',
  'value.format' = 'json',
  'value.fields-include' = 'EXCEPT_KEY',
  {sink_guarantee}
);

INSERT INTO order_views
SELECT
  o.doc_id,
  o.stamp,
  c.name,
  UPPER(c.tier) || ': ' || CAST(CAST(ROUND(o.amount, 0) AS BIGINT) AS STRING)
FROM orders AS o
LEFT JOIN customers AS c ON c.doc_id = o.customer;
