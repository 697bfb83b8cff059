"""The benchmark workloads: a definitions package, the view to compile, its hand-written SQL and its events."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ontoc.backend.flink.artifacts import select_sql
from ontoc.backend.flink.emit import type_text
from ontoc.job_settings import default_job, planner_options
from ontoc.pipeline import Compiled, compile_definitions
from ontoc.runtime.embedded.compiled import job_setup

from . import data
from .harness import FileSource, Query

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORKLOADS = BENCH / "workloads"


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    definitions: Path  # the definitions package
    view: str  # the view (class name) benchmarked
    handwritten: Path | None  # the hand-written SELECT over the same source tables
    data: str  # generator in data.ENTITIES
    sizes: tuple[int, int]  # events in --quick and --full runs
    # the emitted SQL with one hand edit each: what a proposed compiler change would gain
    ablations: tuple[tuple[str, Path], ...] = ()

    def compiled(self, static_methods: str = "inline") -> Compiled:
        return _compile(str(self.definitions), static_methods)

    def emitted_sql(self, static_methods: str = "inline") -> str:
        plans = [p for p in self.compiled(static_methods).plans if p.view == self.view]
        if not plans:
            raise KeyError(f"{self.definitions} has no view {self.view}")
        return select_sql(plans[0])

    def handwritten_sql(self) -> str:
        assert self.handwritten is not None
        return _sql_file(self.handwritten)

    def topics(self) -> list[str]:
        return [e.topic for e in data.ENTITIES[self.data]()]

    def sources(self, folder: Path) -> list[FileSource]:
        """Every model of the package as a file source: doc_id and all declared fields."""
        models = {m.topic: m for m in self.compiled().schema.models.values()}
        out = []
        for topic in self.topics():
            model = models[topic]
            columns = (("doc_id", "STRING"),) + tuple((n, type_text(f.dtype)) for n, f in model.fields.items())
            out.append(FileSource(topic, columns, folder / topic))
        return out

    def setup(self, static_methods: str = "inline") -> Callable[[Any], None]:
        """Registers what the SQL calls (ONTOC_SORT_ROWS, Python UDFs) on both sides alike."""
        return job_setup(self.compiled(static_methods), table_options=False)

    def ontoc_options(self) -> dict[str, str]:
        """The table options `ontoc submit` sets on this package's job (`jobs.planner_options`, defaults)."""
        return planner_options(default_job(""), self.compiled().aggregates())

    def queries(self) -> dict[str, Query]:
        out = {"emitted": Query(f"{self.name}:emitted", self.emitted_sql())}
        if self.handwritten is not None:
            out["handwritten"] = Query(f"{self.name}:handwritten", self.handwritten_sql())
        for name, path in self.ablations:
            out[f"ablation:{name}"] = Query(f"{self.name}:ablation:{name}", _sql_file(path))
        return out


def _sql_file(path: Path) -> str:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.lstrip().startswith("--")]
    return "\n".join(lines).strip().rstrip(";")


@functools.cache
def _compile(path: str, static_methods: str) -> Compiled:
    return compile_definitions(Path(path), static_methods)


# sizes: (--quick, --full) events; --full sized for tens of seconds per run on a shared 2-core machine
WORKLOADS_LIST = [
    Workload(
        "projection",
        "orders with their customer: one reference, string and arithmetic getters, a where",
        WORKLOADS / "projection",
        "OrderCard",
        WORKLOADS / "projection" / "handwritten.sql",
        "projection",
        (150_000, 3_000_000),
    ),
    Workload(
        "two_many",
        "projects over two `many` collections (tasks, expenses) with nine aggregates",
        WORKLOADS / "two_many",
        "ProjectStats",
        WORKLOADS / "two_many" / "handwritten.sql",
        "two_many",
        (150_000, 1_000_000),
    ),
    Workload(
        "three_hop",
        "shipment -> warehouse -> city -> country",
        WORKLOADS / "three_hop",
        "ShipmentCard",
        WORKLOADS / "three_hop" / "handwritten.sql",
        "three_hop",
        (150_000, 1_000_000),
    ),
    Workload(
        "nexmark_bids",
        "Nexmark: bids joined with their auction, filtered by category",
        WORKLOADS / "nexmark",
        "CategoryBid",
        WORKLOADS / "nexmark" / "handwritten_bids.sql",
        "nexmark",
        (150_000, 4_000_000),
    ),
    Workload(
        "nexmark_auctions",
        "Nexmark Q3: auctions joined with their seller, filtered by state",
        WORKLOADS / "nexmark",
        "LocalAuction",
        WORKLOADS / "nexmark" / "handwritten_auctions.sql",
        "nexmark_sellers",
        (150_000, 2_000_000),
    ),
    Workload(
        "nexmark_correlated",
        "Nexmark: per auction, bids at least its initial bid and bids equal to the best (correlated collections)",
        WORKLOADS / "nexmark_correlated",
        "AuctionBids",
        WORKLOADS / "nexmark_correlated" / "handwritten_auction_bids.sql",
        "nexmark",
        (150_000, 1_000_000),
    ),
    Workload(
        "meeting_room",
        "definitions/meeting_room: a reference, a `many` with a nested reference, "
        "ARRAY_AGG of rows sorted by ONTOC_SORT_ROWS, a where",
        ROOT / "definitions" / "meeting_room",
        "MeetingSession",
        WORKLOADS / "meeting_room" / "handwritten.sql",
        "meeting_room",
        (150_000, 1_000_000),
    ),
]
BY_NAME = {w.name: w for w in WORKLOADS_LIST}

# part 2: the same view with every getter in a static method, compiled inline and as Python UDFs
UDF_WORKLOADS = [
    Workload(
        "udf_documents",
        "OrderCard, each getter calling a static method that gets whole documents (ROW arguments)",
        WORKLOADS / "projection_udf",
        "OrderCardPy",
        None,
        "projection",
        (30_000, 200_000),
    ),
    Workload(
        "udf_scalars",
        "OrderCard, each getter calling a static method that gets field values (scalar arguments)",
        WORKLOADS / "projection_udf_scalar",
        "OrderCardScalars",
        None,
        "projection",
        (30_000, 200_000),
    ),
]
