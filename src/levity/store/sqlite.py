"""The SQLite database in the data directory: accounts (and, later, other layers' tables).

One connection per `Database`, guarded by a lock so it can be used from worker threads
(`asyncio.to_thread`): the event loop never waits on disk. WAL mode lets the CLI write while a
server reads. Schema changes are numbered migrations recorded in `schema_version`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DB_NAME = "levity.db"


def _m1_accounts(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE accounts (
            id          TEXT PRIMARY KEY,
            label       TEXT NOT NULL,
            provider    TEXT NOT NULL,
            base_url    TEXT NOT NULL DEFAULT '',
            api_key     TEXT NOT NULL DEFAULT '',
            models      TEXT NOT NULL DEFAULT '[]',
            enabled     INTEGER NOT NULL DEFAULT 1,
            weight      REAL NOT NULL DEFAULT 1,
            options     TEXT NOT NULL DEFAULT '{}',
            created_at  REAL NOT NULL,
            updated_at  REAL NOT NULL,
            position    INTEGER NOT NULL DEFAULT 0
        )
        """
    )


# Append only: each entry runs once, in order, and bumps schema_version by one.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m1_accounts]

ACCOUNT_COLUMNS = (
    "id",
    "label",
    "provider",
    "base_url",
    "api_key",
    "models",
    "enabled",
    "weight",
    "options",
    "created_at",
    "updated_at",
    "position",
)


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            path.chmod(0o600)  # it holds upstream keys
        except OSError:
            pass
        self.migrate()

    @classmethod
    def in_home(cls, home: Path) -> Database:
        return cls(home / DB_NAME)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def migrate(self) -> None:
        with self._lock:
            db = self._db
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                db.execute("INSERT INTO schema_version (version) VALUES (0)")
                version = 0
            else:
                version = row[0]
            for i, step in enumerate(MIGRATIONS[version:], start=version + 1):
                db.execute("BEGIN IMMEDIATE")
                try:
                    step(db)
                    db.execute("UPDATE schema_version SET version = ?", (i,))
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise

    def schema_version(self) -> int:
        with self._lock:
            return self._db.execute("SELECT version FROM schema_version").fetchone()[0]

    def data_version(self) -> int:
        """Changes when another connection (the CLI, another process) commits to the file."""
        with self._lock:
            return self._db.execute("PRAGMA data_version").fetchone()[0]

    # -- accounts ----------------------------------------------------------------------------
    @staticmethod
    def _row(row: sqlite3.Row) -> dict[str, Any]:
        d = dict(row)
        d["models"] = json.loads(d["models"])
        d["options"] = json.loads(d["options"])
        d["enabled"] = bool(d["enabled"])
        return d

    def list_accounts(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM accounts ORDER BY position, created_at").fetchall()
        return [self._row(r) for r in rows]

    def get_account(self, account_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
        return self._row(row) if row else None

    def insert_account(self, data: dict[str, Any]) -> None:
        now = time.time()
        values = {
            **data,
            "models": json.dumps(data.get("models", [])),
            "options": json.dumps(data.get("options", {})),
            "enabled": int(data.get("enabled", True)),
            "created_at": now,
            "updated_at": now,
        }
        with self._lock:
            pos = self._db.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM accounts").fetchone()[0]
            values["position"] = pos
            cols = [c for c in ACCOUNT_COLUMNS if c in values]
            self._db.execute(
                f"INSERT INTO accounts ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [values[c] for c in cols],
            )

    def update_account(self, account_id: str, changes: dict[str, Any]) -> bool:
        values = dict(changes)
        for k in ("models", "options"):
            if k in values:
                values[k] = json.dumps(values[k])
        if "enabled" in values:
            values["enabled"] = int(values["enabled"])
        values["updated_at"] = time.time()
        cols = [c for c in ACCOUNT_COLUMNS if c in values and c != "id"]
        with self._lock:
            cur = self._db.execute(
                f"UPDATE accounts SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?",
                [values[c] for c in cols] + [account_id],
            )
        return cur.rowcount > 0

    def delete_account(self, account_id: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM accounts WHERE id = ?", (account_id,))
        return cur.rowcount > 0
