"""``./run.sh bench``: run the load scenarios and print the tables; ``--json`` keeps the figures.

Examples::

    ./run.sh bench --scenario team --db both --senders 1,16,32,64 --duration 15
    ./run.sh bench --scenario channel --db postgres
    ./run.sh bench --scenario idle --connections 5000
    ./run.sh bench --scenario steady --size 100000
    ./run.sh bench --scenario team --db postgres --processes 1,2,4
    ./run.sh bench --scenario kills --kills 200
    ./run.sh bench --scenario attack --slowloris 200 --huge 50
    ./run.sh bench --scenario phone --json phone.json --before docs/measurements/phone-before.json
    ./run.sh bench chart docs/perf-*.json --out docs/performance-chart.svg
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from bench import attack, kills, phone, procstat, report, scenarios
from bench.cluster import Cluster, raise_fd_limit

T = TypeVar("T")
SCENARIOS = ("rest", "team", "channel", "idle", "steady", "kills", "attack", "phone")


def _loop_run(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)


def with_cluster(db: str, processes: int, fn: Callable[[Cluster], T], keep: bool = False) -> T:
    cluster = Cluster(database=db, processes=processes, keep=keep)
    try:
        cluster.create()
        cluster.start()
        return fn(cluster)
    finally:
        cluster.destroy()


def run_rest(db: str) -> dict[str, Any]:
    def go(c: Cluster) -> dict[str, Any]:
        time.sleep(2)
        at_rest = procstat.sample(c.server_pids).rss_bytes
        persons = c.add_people(20)
        logins = c.login_all(persons)
        conv = c.create_conversation(logins[0], logins[1:], "Transmissions")
        _loop_run(scenarios.conversation_load(c, logins, conv, senders=4, duration=3, warmup=1))
        time.sleep(3)
        after = procstat.sample(c.server_pids).rss_bytes
        return {"database": db, "rss_at_rest_mib": round(at_rest / 2**20, 1),
                "rss_after_load_mib": round(after / 2**20, 1)}

    return with_cluster(db, 1, go)


def run_conversation(db: str, processes: int, members: int, senders: list[int], args: argparse.Namespace,
                     ) -> list[dict[str, Any]]:
    def go(c: Cluster) -> list[dict[str, Any]]:
        persons = c.add_people(members)
        logins = c.login_all(persons)
        conv = c.create_conversation(logins[0], logins[1:], "Transmissions")
        out = []
        for s in senders:
            r = _loop_run(scenarios.conversation_load(c, logins, conv, senders=s, duration=args.duration,
                                                      warmup=args.warmup, compression=args.compression))
            r = {"database": db, "members": members, **r}
            print(report.conversation_table([r]).splitlines()[-1], file=sys.stderr, flush=True)
            out.append(r)
        return out

    return with_cluster(db, processes, go)


def run_idle(db: str, connections: int, compression: str | None) -> dict[str, Any]:
    def go(c: Cluster) -> dict[str, Any]:
        persons = c.add_people(max(1, connections // 100))
        logins = c.mint_sessions(persons, connections)
        r = _loop_run(scenarios.idle_connections(c, logins, compression))
        return {"database": db, **r}

    return with_cluster(db, 1, go)


def run_steady(db: str, size: int, senders: int, fill_via: str) -> dict[str, Any]:
    def go(c: Cluster) -> dict[str, Any]:
        persons = c.add_people(20)
        logins = c.login_all(persons)
        conv = c.create_conversation(logins[0], logins[1:], "Transmissions")
        r = _loop_run(scenarios.steady_state(c, logins, conv, size=size, senders=senders,
                                                    fill_via=fill_via))
        return {"database": db, **r}

    return with_cluster(db, 1, go)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str]) -> int:
    if argv and argv[0] == "chart":
        p = argparse.ArgumentParser(prog="bench chart")
        p.add_argument("files", nargs="+", type=Path)
        p.add_argument("--out", type=Path, required=True)
        p.add_argument("--title", default="20-member care team, 20 live receivers")
        a = p.parse_args(argv[1:])
        a.out.write_text(report.chart_from(a.files, a.title))
        return 0
    if argv and argv[0] == "instructions":
        from bench import instructions

        p = argparse.ArgumentParser(prog="bench instructions",
                                    description="instructions per message sent, counted by callgrind (SQLite)")
        p.add_argument("--sends", type=int, default=200)
        p.add_argument("--json", type=Path)
        a = p.parse_args(argv[1:])
        result = {"command": "./run.sh bench " + " ".join(argv), "machine": report.machine(),
                  "instructions": instructions.count(a.sends)}
        print(json.dumps(result["instructions"]))
        if a.json:
            a.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    p = argparse.ArgumentParser(prog="bench", description="Chevet load benchmarks (see docs/performance.md)")
    p.add_argument("--scenario", default="rest,team,channel,idle,steady,kills",
                   help=f"comma-separated, among {', '.join(SCENARIOS)}")
    p.add_argument("--db", default="both", choices=["sqlite", "postgres", "both"])
    p.add_argument("--senders", default="1,16,32,64", help="concurrent senders for the care team")
    p.add_argument("--channel-senders", default="16", help="concurrent senders for the 200-member channel")
    p.add_argument("--members", type=int, default=20, help="care-team size")
    p.add_argument("--channel-members", type=int, default=200)
    p.add_argument("--duration", type=float, default=15, help="measured seconds per point")
    p.add_argument("--warmup", type=float, default=3, help="unmeasured seconds before each point")
    p.add_argument("--processes", default="1", help="server processes (PostgreSQL + Redis if more than 1)")
    p.add_argument("--connections", type=int, default=5000, help="idle realtime connections")
    p.add_argument("--size", type=int, default=100_000, help="stored messages for the steady state")
    p.add_argument("--compression", default="deflate", choices=["deflate", "none"],
                   help="what WebSocket clients offer (browsers offer permessage-deflate)")
    p.add_argument("--fill", default="api", choices=["api", "app"],
                   help="steady state: fill through the HTTP API or the application layer (faster)")
    p.add_argument("--kills", type=int, default=100, help="SIGKILLs per database in the crash-safety trials")
    p.add_argument("--slowloris", type=int, default=200, help="attack: connections sending headers 1 byte/s")
    p.add_argument("--huge", type=int, default=50, help="attack: connections pushing 1 MiB of headers")
    p.add_argument("--attack-seconds", type=float, default=15, help="attack: how long the slowloris clients try")
    p.add_argument("--runs", type=int, default=3, help="phone: runs of each task (the median is shown)")
    p.add_argument("--tasks", default=",".join(phone.TASKS), help="phone: comma-separated tasks")
    p.add_argument("--before", type=Path, help="phone: an earlier --json file, shown beside this run")
    p.add_argument("--screenshots", type=Path, help="phone: a folder for a 360×780 screenshot after each task")
    p.add_argument("--link", default="relay", choices=["relay", "cdp"],
                   help="phone: emulate the link in the counting relay (default) or with Chromium's CDP emulation")
    p.add_argument("--json", type=Path, help="write every figure here")
    a = p.parse_args(argv)
    a.compression = None if a.compression == "none" else a.compression
    chosen = [s.strip() for s in a.scenario.split(",") if s.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenario: {', '.join(sorted(unknown))}")
    dbs = ["sqlite", "postgres"] if a.db == "both" else [a.db]
    raise_fd_limit()
    results: dict[str, Any] = {"command": "./run.sh bench " + " ".join(argv), "machine": report.machine(),
                               "client": "one separate client process on the same machine (asyncio + uvloop)",
                               "rest": [], "conversation": [], "idle": [], "steady": [], "kills": [],
                               "attack": [], "phone": None}
    if "phone" in chosen:  # the storage plays no part: SQLite
        wanted = tuple(t.strip() for t in a.tasks.split(",") if t.strip())
        if set(wanted) - set(phone.TASKS):
            p.error(f"unknown task: {', '.join(sorted(set(wanted) - set(phone.TASKS)))}")
        results["phone"] = phone.run_phone(a.runs, wanted, a.screenshots, a.link)
    if "attack" in chosen:  # the storage plays no part: SQLite
        results["attack"].append(attack.run_attack(a.slowloris, a.huge, a.attack_seconds))
    for db in dbs:
        if "rest" in chosen:
            results["rest"].append(run_rest(db))
        if "team" in chosen:
            for n in _ints(a.processes):
                if n > 1 and db == "sqlite":
                    continue  # several processes need PostgreSQL and Redis
                results["conversation"] += run_conversation(db, n, a.members, _ints(a.senders), a)
        if "channel" in chosen:
            results["conversation"] += run_conversation(db, 1, a.channel_members, _ints(a.channel_senders), a)
        if "idle" in chosen:
            results["idle"].append(run_idle(db, a.connections, a.compression))
        if "steady" in chosen:
            results["steady"].append(run_steady(db, a.size, 16, a.fill))
        if "kills" in chosen:
            results["kills"].append(kills.run_kills(db, a.kills))
    print(report.render(results))
    if results["attack"]:
        print("\n## Hostile clients (memory and connections)\n\n" + attack.table(results["attack"]))
    if results["phone"]:
        print("\n## Daily tasks on a phone at 512 kbit/s / 400 ms\n\n" + phone.table(results["phone"])
              + "\n\n" + phone.notes(results["phone"]))
        if a.before:
            print("\n### Before and after\n\n" + phone.compare(json.loads(a.before.read_text())["phone"],
                                                             results["phone"]))
    if results["kills"]:
        print("\n## Crash safety (SIGKILL trials)\n\n" + kills.table(results["kills"]))
    if a.json:
        a.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0 if all(r["passed"] for r in results["kills"]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
