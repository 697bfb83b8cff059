"""A Flink cluster: submitting a built job, its REST API, its Kafka topics."""
