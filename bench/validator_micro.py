"""The validator's CPU per event in one JVM thread: `python -m bench.validator_micro`.

Runs jvm/functions/src/bench/java/dev/ontoc/flink/ValidatorBench.java (compiled here with javac against
ontoc's functions jar and PyFlink's Flink jars) over bench part 4's order events, with the spec literal
`ontoc submit` writes for part 4's package (workloads/e2e_probe): ONTOC_VALIDATE_EVENT's call, its result
as Flink's internal row, the copies the source chain makes of it, and Flink's own json format on the
same bytes (what the expert's job runs). Not a part of `bench run`: a tool for changing the validator
(bench/README.md, part 4 has the figures).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pyflink

from ontoc.backend.flink.job import build_job
from ontoc.job_settings import default_job
from ontoc.jvm.functions import ensure_functions_jar
from ontoc.pipeline import compile_definitions
from ontoc.runtime.cluster.kafka import KafkaConnection

from .e2e import probe_package

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "jvm" / "functions" / "src" / "bench" / "java" / "dev" / "ontoc" / "flink" / "ValidatorBench.java"
MAIN = "dev.ontoc.flink.ValidatorBench"


def probe_spec(tmp: Path) -> str:
    """The validator spec of part 4's package (its topics suffixed `_micro`)."""
    from ontoc.events import validator_spec

    compiled = compile_definitions(probe_package(tmp, "micro"))
    kafka = KafkaConnection("127.0.0.1:9092").options()  # not contacted: only the spec literal is read
    spec = build_job(compiled.plans, compiled.schema.models, default_job("micro"), kafka)
    return validator_spec(spec.functions.validator)


def main() -> int:
    jar = ensure_functions_jar(progress=lambda m: print(m, file=sys.stderr))
    flink_lib = Path(pyflink.__file__).parent / "lib"
    with tempfile.TemporaryDirectory(prefix="ontoc-validator-micro-") as folder:
        tmp = Path(folder)
        (tmp / "spec.json").write_text(probe_spec(tmp), encoding="utf-8")
        classpath = f"{jar}:{flink_lib}/*"
        subprocess.run(["javac", "-nowarn", "-d", str(tmp / "classes"), "-cp", classpath, str(SOURCE)], check=True)
        proc = subprocess.run(
            ["java", "-cp", f"{jar}:{tmp / 'classes'}:{flink_lib}/*", MAIN, str(tmp / "spec.json")],
            capture_output=True,
            text=True,
            check=True,
        )
    print(proc.stdout, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
