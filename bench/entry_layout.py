"""The conversation log's two SQLite layouts side by side, SQLite alone (no server, no
encryption): keyed by the message id (a rowid table and two indexes, before migration 0015) or
by its place, ``WITHOUT ROWID``. Rows of a message's size in one conversation, 8 KiB pages;
for each layout its size per row, a history page's read (50 rows by place, at random places)
and a read by id; and the time of migration 0015's copy (``INSERT … SELECT … ORDER BY`` from
the old layout into the new one). Run:

    .venv/bin/python -m bench.entry_layout --rows 100000

It tells the table's shape apart from the rest of the server's path when a history page's time
moves (docs/performance.md, *The log keyed by its place*)."""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

COLUMNS = "id BLOB NOT NULL, conversation_id BLOB NOT NULL, seq INTEGER NOT NULL, body BLOB, terms BLOB"
LAYOUTS = {
    "by id (before 0015)": f"CREATE TABLE entry ({COLUMNS}, PRIMARY KEY (id), UNIQUE (conversation_id, seq))",
    "by place (0015)": f"CREATE TABLE entry ({COLUMNS}, PRIMARY KEY (conversation_id, seq), UNIQUE (id)) "
                       "WITHOUT ROWID",
}
BODY, TERMS = 300, 40  # a 130-character message sealed, and its search terms: about the real row


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50": round(statistics.median(ordered) * 1e3, 3),
            "p95": round(ordered[int(len(ordered) * 0.95)] * 1e3, 3)}


def measure(folder: Path, rows: int, samples: int, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    conv = uuid.UUID(int=rng.getrandbits(128)).bytes
    data = [(uuid.UUID(int=rng.getrandbits(128)).bytes, conv, i, rng.randbytes(BODY), rng.randbytes(TERMS))
            for i in range(1, rows + 1)]
    out: dict[str, Any] = {}
    for name, ddl in LAYOUTS.items():
        path = folder / f"{len(out)}.db"
        con = sqlite3.connect(path)
        con.execute("PRAGMA page_size=8192")
        con.execute(ddl)
        con.executemany("INSERT INTO entry VALUES (?, ?, ?, ?, ?)", data)
        con.commit()
        con.execute("VACUUM")
        pages = [rng.randint(60, rows) for _ in range(samples)]
        ranges = []
        for before in pages:
            t = time.perf_counter()
            con.execute("SELECT * FROM entry WHERE conversation_id = ? AND seq < ? AND seq >= 1 "
                        "ORDER BY seq DESC LIMIT 50", (conv, before)).fetchall()
            ranges.append(time.perf_counter() - t)
        by_id = []
        for i in rng.sample(range(rows), samples):
            t = time.perf_counter()
            con.execute("SELECT * FROM entry WHERE id = ? AND conversation_id = ?", (data[i][0], conv)).fetchone()
            by_id.append(time.perf_counter() - t)
        con.close()
        out[name] = {"bytes_per_row": round(os.path.getsize(path) / rows, 1),
                     "history_page_ms": _ms(ranges), "by_id_ms": _ms(by_id)}
    # Migration 0015's copy: the old layout's rows into the new one, in key order.
    con = sqlite3.connect(folder / "0.db")
    con.execute(LAYOUTS["by place (0015)"].replace("TABLE entry", "TABLE entry_new"))
    t = time.perf_counter()
    con.execute("INSERT INTO entry_new SELECT * FROM entry ORDER BY conversation_id, seq")
    con.commit()
    out["migration_copy_s"] = round(time.perf_counter() - t, 2)
    con.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--samples", type=int, default=400)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"building two tables of {args.rows:,} rows…", flush=True)
        result = measure(Path(tmp), args.rows, args.samples)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"command": f".venv/bin/python -m bench.entry_layout --rows {args.rows} "
                                                    f"--json {args.json}", **result}, indent=1) + "\n")


if __name__ == "__main__":
    main()
