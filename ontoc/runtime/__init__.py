"""What executes compiled views: in this process (`embedded/`), on a cluster (`cluster/`), and the code
Flink's Python workers run (`workers/`)."""
