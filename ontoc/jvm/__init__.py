"""The JVM side of ontoc: jars fetched and built with Maven from the `jvm/` Maven projects."""
