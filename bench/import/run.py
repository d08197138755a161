"""Time the end-to-end import of the 100,000-row list against the naive baseline, same run.

    uv run python bench/import/run.py [--rows 100000] [--postgres]

Each measurement runs in its own process on a fresh database (migrated, sample units loaded)
and reports wall time and that process's peak memory (max RSS). The importer runs
`--repeat` times (fastest reported, all listed), the baseline once. The baseline is the
straightforward way: pandas.read_excel with openpyxl, phonenumbers.parse per row, one ORM
insert per row. With --postgres a throw-away server is started with initdb/pg_ctl as the
`postgres` user on a free 127.0.0.1 port, and stopped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out"


# --- one measurement (child process) -------------------------------------------------------


def _fresh_database() -> None:
    from sqlalchemy import MetaData, text

    from robocall import db, models  # noqa: F401
    from robocall.schema import upgrade
    from robocall.units.service import ensure_sample_units

    url = os.environ["ROBOCALL_DATABASE_URL"]
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    engine = db.get_engine()
    reflected = MetaData()
    reflected.reflect(engine)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in reflected.sorted_tables:
                conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
    upgrade(engine)
    with db.session_scope() as session:
        ensure_sample_units(db_session=session)


def _robocall(path: Path) -> dict[str, Any]:
    from robocall.db import session_scope
    from robocall.importers.service import import_path

    with session_scope() as session:
        result = import_path(db_session=session, path=path, unit_code="769")
    return {"created": result.created, "duplicates": result.duplicates, "rows": result.rows}


def _baseline(path: Path) -> dict[str, Any]:
    import datetime as dt

    import pandas as pd
    import phonenumbers

    from robocall.contacts.models import Classification, Contact
    from robocall.db import get_sessionmaker

    frame = pd.read_excel(path, engine="openpyxl", skiprows=3, dtype=str)
    created = 0
    with get_sessionmaker()() as session:
        for row in frame.itertuples(index=False):
            name = str(row[1]).strip()
            phone = None
            try:
                number = phonenumbers.parse(str(row[6]), "VN")
                if phonenumbers.is_valid_number(number):
                    phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            except phonenumbers.NumberParseException:
                pass
            label = str(row[7]).upper().replace(" ", "").replace("-", "")
            with warnings.catch_warnings():  # pandas warns on "2021-07-05 00:00:00"
                warnings.simplefilter("ignore")
                exposure = pd.to_datetime(row[8], dayfirst=True, errors="coerce")
            contact = Contact(
                name=name,
                match_key=name.lower(),
                phone=phone,
                sms_capable=phone is not None,
                classification=Classification(label)
                if label in Classification.__members__
                else Classification.unknown,
                exposure_date=None if pd.isna(exposure) else exposure.date(),
                birth_year=int(row[2]) if str(row[2]).isdigit() else None,
                hamlet=row[4],
                commune=row[5],
                notes=None if pd.isna(row[9]) else row[9],
                source_file=path.name,
                source_row=created + 5,
                created_at=dt.datetime.now(dt.UTC),
            )
            session.add(contact)
            session.flush()
            created += 1
        session.commit()
    return {"created": created}


def child(method: str, path: Path) -> None:
    _fresh_database()
    start, cpu_start = time.perf_counter(), time.process_time()
    counts = _robocall(path) if method == "robocall" else _baseline(path)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak_mb, **counts}))


# --- orchestration -------------------------------------------------------------------------


def _measure(method: str, path: Path, database_url: str) -> dict[str, Any]:
    env = {**os.environ, "ROBOCALL_DATABASE_URL": database_url, "ROBOCALL_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", method, "--file", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{method} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Postgres:
    """A throw-away PostgreSQL server in a temporary directory, run as `postgres`."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pgbench-"))
        shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.port = _free_port()

    def _as_postgres(self, command: str) -> None:
        subprocess.run(["su", "postgres", "-c", command], check=True, capture_output=True)

    def __enter__(self) -> str:
        self._as_postgres(f"initdb -D {self.data} -A trust -U postgres -E UTF8")
        self._as_postgres(
            f"pg_ctl -D {self.data} -l {self.dir}/log -w "
            f"-o '-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1' start"
        )
        self._as_postgres(f"createdb -h 127.0.0.1 -p {self.port} robocall_bench")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/robocall_bench"

    def __exit__(self, *_exc: object) -> None:
        self._as_postgres(f"pg_ctl -D {self.data} -m fast -w stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="also measure on PostgreSQL")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the importer")
    parser.add_argument("--child", choices=["robocall", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file)
        return

    sys.path.insert(0, str(Path(__file__).parent))
    from generate import generate  # the seeded generator beside this file

    path = OUT / f"f1_{args.rows}.xlsx"
    if not path.exists():
        generate(path, args.rows)
    print(f"file: {path.name}, {args.rows} rows, {path.stat().st_size / 1e6:.1f} MB")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    databases = [("SQLite", f"sqlite:///{OUT / 'bench.sqlite3'}")]
    rows = []
    with Postgres() if args.postgres else _nothing() as pg_url:
        if pg_url:
            databases.append(("PostgreSQL", pg_url))
        for label, url in databases:
            # The machine is shared: the importer (seconds) runs `--repeat` times and its
            # fastest run is reported with the others; the baseline (minutes) runs once.
            runs = [_measure("robocall", path, url) for _ in range(args.repeat)]
            ours = min(runs, key=lambda r: r["seconds"])
            ours["all_seconds"] = [round(r["seconds"], 1) for r in runs]
            base = _measure("baseline", path, url)
            rows.append((label, ours, base))
    print()
    print(
        "| database | robocall: wall (CPU of this process) | peak memory "
        "| baseline: wall (CPU) | baseline peak | speed-up wall (CPU) |"
    )
    print("|---|---|---|---|---|---|")
    for label, ours, base in rows:
        print(
            f"| {label} | {ours['seconds']:.1f} s ({ours['cpu_seconds']:.1f} s) "
            f"| {ours['peak_mb']:.0f} MB "
            f"| {base['seconds']:.1f} s ({base['cpu_seconds']:.1f} s) | {base['peak_mb']:.0f} MB "
            f"| {base['seconds'] / ours['seconds']:.1f}× "
            f"({base['cpu_seconds'] / ours['cpu_seconds']:.1f}×) |"
        )
    for label, ours, base in rows:
        print(f"{label}: robocall {ours}; baseline {base}")


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_exc: object) -> None:
        return None


if __name__ == "__main__":
    main()
