"""Deterministic change events for the benchmark workloads, and the files Flink reads them from.

A workload's events are every document inserted once (the initial load), then random changes:
upserts that replace a whole document and a few deletes (tombstones). References point at a live
document most of the time, sometimes at one that never exists, and deletes leave others dangling,
so the error paths of the emitted SQL (`doc_id IS NULL` flags) are exercised as in production.

Events are `(topic, doc_id, document | None)`. They are written twice over:

- `<dir>/<topic>/part-0.json`: Debezium-JSON change records (`{"op": "c", "after": {...}}` for an
  upsert, `{"op": "d", "before": {"doc_id": ...}}` for a delete) that the embedded Flink reads with
  the filesystem connector (see harness.py: with `table.exec.source.cdc-events-duplicate` and a
  primary key the planner puts the same ChangelogNormalize after it as after an upsert-kafka source);
- on request `<dir>/input/<topic>.jsonl` in ontoc's own input format (`ontoc run --local --input`).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

Event = tuple[str, str, dict | None]
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class Entity:
    """One domain model's documents: `share` of the documents and `churn` of the later changes."""

    topic: str
    prefix: str
    share: float  # documents of this model per event of the run
    churn: float  # relative weight among the change events
    make: Callable[[random.Random, Ids], dict]
    minimum: int = 1


class Ids:
    """Document ids per prefix; `ref` mostly names an existing document, 2% of the time one that never exists."""

    def __init__(self, counts: dict[str, int], dangling: float = 0.02):
        self.counts = counts
        self.dangling = dangling

    def ref(self, rng: random.Random, prefix: str) -> str:
        n = self.counts[prefix]
        if rng.random() < self.dangling:
            return f"{prefix}missing-{rng.randrange(n)}"
        return f"{prefix}{rng.randrange(n)}"


def generate(entities: list[Entity], n_events: int, seed: int, clean: bool = False) -> list[Event]:
    """About `n_events` events: each document inserted once, then changes until the count is reached.

    `clean`: no deletes and no dangling references (every reference names a live document).
    """
    rng = random.Random(seed)
    delete_share = 0.0 if clean else 0.02
    counts = {e.prefix: max(e.minimum, int(n_events * e.share)) for e in entities}
    ids = Ids(counts, 0.0 if clean else 0.02)
    events: list[Event] = []
    for e in entities:
        for i in range(counts[e.prefix]):
            events.append((e.topic, f"{e.prefix}{i}", e.make(rng, ids)))
    weights = [e.churn for e in entities]
    while len(events) < n_events:
        e = rng.choices(entities, weights)[0]
        key = f"{e.prefix}{rng.randrange(counts[e.prefix])}"
        events.append((e.topic, key, None if rng.random() < delete_share else e.make(rng, ids)))
    return events


# --------------------------------------------------------------------------
# the workloads' documents
# --------------------------------------------------------------------------

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
]
FIRST = ["Ann", "Bob", "Cleo", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jo", "Kai", "Lea", "Mo", "Nia"]
LAST = ["Smith", "Jones", "Brown", "Garcia", "Miller", "Davis", "Lopez", "Wilson", "Moore", "Clark"]
STATES = ["OR", "ID", "CA", "WA", "NV", "AZ", "UT", "NY", "TX", "FL"]


def _money(rng: random.Random, low: float, high: float) -> float:
    # quarters: sums of them are exact in binary floating point, whatever the order of addition
    return rng.randrange(int(low * 4), int(high * 4)) / 4


def projection_entities() -> list[Entity]:
    def customer(rng, ids):
        return {
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "email": rng.choice([None, "", f"{rng.choice(FIRST).lower()}@example.com"]),
            "vip": rng.random() < 0.2,
            "country": rng.choice(["de", "fr", "us", "jp", "br"]),
        }

    def order(rng, ids):
        return {
            "customer": ids.ref(rng, "c"),
            "status": rng.choice(["draft", "open", "paid", "shipped"]),
            "amount": _money(rng, 1, 400),
            "discount": rng.choice([None, None, 0.25, 0.5]),
        }

    return [Entity("pj_customers", "c", 0.025, 1, customer), Entity("pj_orders", "o", 0.25, 9, order)]


def two_many_entities() -> list[Entity]:
    def project(rng, ids):
        return {"name": rng.choice(WORDS).title(), "budget": float(rng.randrange(100, 5000))}

    def task(rng, ids):
        return {
            "project": ids.ref(rng, "p"),
            "hours": _money(rng, 0, 40),
            "done": rng.random() < 0.4,
            "priority": rng.randrange(-2, 6),
        }

    def expense(rng, ids):
        return {
            "project": ids.ref(rng, "p"),
            "amount": _money(rng, 1, 900),
            "category": rng.choice(WORDS[:8]),
            "approved": rng.random() < 0.6,
        }

    return [
        Entity("tm_projects", "p", 0.01, 1, project),
        Entity("tm_tasks", "t", 0.12, 5, task),
        Entity("tm_expenses", "e", 0.12, 5, expense),
    ]


def three_hop_entities() -> list[Entity]:
    def country(rng, ids):
        return {
            "name": rng.choice(WORDS).title() + "land",
            "code": rng.choice(["DE", "FR", "US", "JP"]),
            "eu": rng.random() < 0.5,
        }

    def city(rng, ids):
        return {"name": rng.choice(WORDS).title(), "country": ids.ref(rng, "k")}

    def warehouse(rng, ids):
        return {"name": "W-" + rng.choice(WORDS), "city": ids.ref(rng, "ci")}

    def shipment(rng, ids):
        return {
            "warehouse": ids.ref(rng, "w"),
            "weight": _money(rng, 0, 60),
            "status": rng.choice(["new", "packed", "sent", "delivered"]),
        }

    return [
        Entity("th_countries", "k", 0.0005, 0.1, country, minimum=5),
        Entity("th_cities", "ci", 0.002, 0.3, city, minimum=10),
        Entity("th_warehouses", "w", 0.01, 0.6, warehouse, minimum=20),
        Entity("th_shipments", "s", 0.25, 9, shipment),
    ]


def nexmark_entities() -> list[Entity]:
    """Nexmark's mix: about 2% people, 6% auctions, 92% bids; bids mostly on recent auctions."""

    def person(rng, ids):
        return {
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "email": f"{rng.choice(WORDS)}@example.com",
            "city": rng.choice(WORDS).title(),
            "state": rng.choice(STATES),
        }

    def auction(rng, ids):
        bid = rng.randrange(1, 1000)
        return {
            "item_name": rng.choice(WORDS) + " " + rng.choice(WORDS),
            "initial_bid": bid,
            "reserve": bid + rng.randrange(0, 500),
            "category": rng.randrange(10, 15),
            "seller": ids.ref(rng, "pe"),
        }

    def bid(rng, ids):
        return {
            "auction": ids.ref(rng, "a"),
            "bidder": f"pe{rng.randrange(ids.counts['pe'])}",
            "price": rng.randrange(1, 2000),
            "channel": rng.choice(["web", "app", "api"]),
        }

    return [
        Entity("nx_persons", "pe", 0.01, 2, person),
        Entity("nx_auctions", "a", 0.03, 6, auction),
        Entity("nx_bids", "b", 0.30, 92, bid),
    ]


def nexmark_sellers_entities() -> list[Entity]:
    """Nexmark's people and auctions only (1 : 3, as in Nexmark), for the view that reads no bids."""
    people, auctions, _bids = nexmark_entities()
    return [
        Entity(people.topic, people.prefix, 0.08, 1, people.make),
        Entity(auctions.topic, auctions.prefix, 0.25, 3, auctions.make),
    ]


def meeting_room_entities() -> list[Entity]:
    def location(rng, ids):
        return {
            "address": f"{rng.randrange(1, 200)} {rng.choice(WORDS).title()} Street",
            "latitude": rng.uniform(-80, 80),
            "longitude": rng.uniform(-170, 170),
        }

    def user(rng, ids):
        return {
            "first_name": rng.choice(FIRST),
            "last_name": rng.choice(LAST),
            "organization": rng.choice([None, "ACME", "Globex", "Initech"]),
            "hearing_aid_requested": rng.random() < 0.1,
        }

    def meeting(rng, ids):
        return {
            "status": rng.choice(["not-started", "in-session", "in-session", "closed", "deleted"]),
            "location": ids.ref(rng, "l"),
        }

    def ticket(rng, ids):
        return {
            "meeting": ids.ref(rng, "m"),
            "user": ids.ref(rng, "u"),
            "role": rng.choice(["speaker", "guest", "host"]),
            "attendance": rng.random() < 0.6,
        }

    return [
        Entity("locations", "l", 0.002, 0.2, location, minimum=5),
        Entity("users", "u", 0.02, 1, user),
        Entity("meetings", "m", 0.01, 1.5, meeting),
        Entity("tickets", "tk", 0.2, 8, ticket),
    ]


ENTITIES = {
    "projection": projection_entities,
    "two_many": two_many_entities,
    "three_hop": three_hop_entities,
    "nexmark": nexmark_entities,
    "nexmark_sellers": nexmark_sellers_entities,
    "meeting_room": meeting_room_entities,
}


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------


def debezium_lines(events: list[Event], topic: str) -> Iterator[str]:
    for t, key, doc in events:
        if t != topic:
            continue
        if doc is None:
            yield json.dumps({"op": "d", "before": {"doc_id": key}}, separators=(",", ":"))
        else:
            yield json.dumps({"op": "c", "after": {"doc_id": key, **doc}}, separators=(",", ":"))


def write_debezium(events: list[Event], folder: Path, topics: list[str]) -> dict[str, int]:
    """`folder/<topic>/part-0.json` per topic (every topic gets a folder, maybe empty); events per topic."""
    counts = {}
    for topic in topics:
        path = folder / topic
        path.mkdir(parents=True, exist_ok=True)
        n = 0
        with (path / "part-0.json").open("w", encoding="utf-8") as out:
            for line in debezium_lines(events, topic):
                out.write(line + "\n")
                n += 1
        counts[topic] = n
    return counts


def write_jsonl(events: list[Event], folder: Path) -> None:
    """ontoc's input format: `folder/<topic>.jsonl`, `{"key": ..., "value": ...}` per line."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[str]] = {}
    for topic, key, doc in events:
        files.setdefault(topic, []).append(json.dumps({"key": key, "value": doc}))
    for topic, lines in files.items():
        (folder / f"{topic}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Dataset:
    workload: str
    folder: Path  # holds <topic>/part-0.json
    counts: dict[str, int]  # events per topic

    @property
    def events(self) -> int:
        return sum(self.counts.values())


def dataset(workload: str, n_events: int, seed: int, cache: Path, clean: bool = False) -> Dataset:
    """The workload's events as Debezium-JSON files, generated once per (workload, size, seed) into `cache`."""
    tag = hashlib.sha256(f"{workload}:{n_events}:{seed}:{clean}:{GENERATOR_VERSION}".encode()).hexdigest()[:10]
    folder = cache / f"{workload}{'-clean' if clean else ''}-{n_events}-{tag}"
    done = folder / "counts.json"
    if done.exists():
        return Dataset(workload, folder, json.loads(done.read_text()))
    entities = ENTITIES[workload]()
    events = generate(entities, n_events, seed, clean)
    counts = write_debezium(events, folder, [e.topic for e in entities])
    done.write_text(json.dumps(counts))
    return Dataset(workload, folder, counts)


def small_events(workload: str, n_events: int, seed: int, clean: bool = False) -> list[Event]:
    return generate(ENTITIES[workload](), n_events, seed, clean)
