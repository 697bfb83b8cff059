"""`ontoc dev up`: a local Kafka broker and Flink cluster for development."""
