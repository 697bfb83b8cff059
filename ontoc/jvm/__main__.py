"""`python -m ontoc.jvm`: fetch and build every JVM jar ontoc uses (`make` and CI run this)."""

from __future__ import annotations

from .functions import ensure_functions_jar
from .jars import ensure_jars


def main() -> None:
    paths = ensure_jars()
    jar = ensure_functions_jar()
    print(
        f"jars ready: {paths.flink_connector_jar.name}, Kafka broker classpath in "
        f"{paths.kafka_classpath_dir}, {jar.name}"
    )


if __name__ == "__main__":
    main()
