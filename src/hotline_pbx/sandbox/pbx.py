"""Start, drive and always tear down a real Asterisk 22 inside the cached root.

Each :class:`AsteriskSandbox` is one Asterisk process with its own directory
tree under the root (``/etc/hotline-pbx/<name>``, ``/run/hotline-pbx/<name>``)
and its own ports, so several can run side by side. This module blocks (it
runs subprocesses): call it from tests, scripts or ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hotline_pbx.domain.contract import DialplanVar
from hotline_pbx.resources import checkout_root, shipped_dir

DEFAULT_ROOT = Path(os.environ.get("HOTLINE_SANDBOX_ROOT", "/var/cache/hotline-pbx/asterisk-root"))
# The sandbox's own files, relative to the checkout: test and demo harness, not
# product, so an install does not carry them (see :func:`harness_path`).
BUILD_SCRIPT = Path("scripts/build-asterisk-root.sh")
STAND_INS = Path("sandbox")  # stand-in agents and mobiles (extensions_site.conf)
# Stand-in agents' behaviour (sandbox/extensions_site.conf), changeable per test.
SANDBOX_GLOBALS = {
    "SANDBOX_AGENT_ANSWER": "yes",
    "SANDBOX_AGENT_RING": "1",
    "SANDBOX_AGENT_TALK": "3",
    # The fail-safe mobile is a stand-in that answers after 1 s.
    DialplanVar.FAILSAFE_MOBILE: "Local/13810300000@sandbox-mobiles",
    DialplanVar.FAILSAFE_RING: "10",
}


#: The root's only name server: a loopback address of its own, where nothing
#: listens (a lookup is refused at once) unless a test serves SRV records there
#: (:mod:`hotline_pbx.sandbox.srv_dns`).
SANDBOX_DNS = "127.0.1.53"

#: An AMI user of the sandbox's own, unfiltered: tests that watch what Asterisk
#: does beyond what the daemon reads (a Newstate of ringing) log in as it.
OBSERVER_USER = "sandbox-observer"

#: PJSIP's least timer T1 (res_pjsip's system settings), ms.
MIN_TIMER_T1_MS = 100
#: PJSIP's qualify_timeout (its default; the shipped pjsip.conf keeps it), seconds.
CARRIER_QUALIFY_TIMEOUT = 3


class SandboxError(RuntimeError):
    """The sandbox PBX could not be built, started or driven."""


def harness_path(relative: Path) -> Path:
    """A file or directory of the sandbox's own, in the checkout we run from.

    The product's files (``asterisk-conf/``, ``dialplan/``) come with any
    install (:mod:`hotline_pbx.resources`); the stand-ins and the root's build
    script only with a checkout: from an install, say so in one line.
    """
    root = checkout_root()
    if root is None:
        raise SandboxError(f"the Asterisk sandbox needs a checkout of hotline-pbx: {relative} "
                           "is test harness and not installed with the package")
    return root / relative


def config_sources() -> tuple[Path, ...]:
    """The directories whose ``*.conf`` files make up a sandbox PBX's configuration."""
    return (shipped_dir("asterisk-conf"), shipped_dir("dialplan"), harness_path(STAND_INS))


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port nobody listens on right now (TCP or UDP)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class PbxPorts:
    """Every loopback port one sandbox instance uses."""

    sip: int
    ami: int
    http: int
    agi: int  # where the dialplan looks for hotline-pbx's FastAGI listener
    carrier_peer: int  # the carrier's side of the 400 trunk (a SIPp UAS when needed)
    mobile_peer: int  # the general trunk's far end (a SIPp UAS when needed)

    @classmethod
    def allocate(cls, agi: int | None = None) -> PbxPorts:
        return cls(
            sip=free_port(socket.SOCK_DGRAM),
            ami=free_port(),
            http=free_port(),
            agi=agi if agi is not None else free_port(),
            carrier_peer=free_port(socket.SOCK_DGRAM),
            mobile_peer=free_port(socket.SOCK_DGRAM),
        )


@dataclass
class AsteriskSandbox:
    """One Asterisk 22 process in the cached root, on its own ports."""

    name: str
    ports: PbxPorts
    ami_user: str = "hotline"
    ami_secret: str = "sandbox-ami-secret"
    ari_user: str = "hotline"
    ari_password: str = "sandbox-ari-secret"
    # Every internal phone's password (the shipped pjsip.conf has placeholders).
    phone_password: str = "sandbox-phone-secret"
    root: Path = DEFAULT_ROOT
    globals: Mapping[str, str] = field(default_factory=dict)
    # The carrier AOR's qualify_frequency (the shipped pjsip.conf says 30). Off
    # by default: in most tests nobody listens at ports.carrier_peer, the first
    # OPTIONS would mark the carrier Unreachable, and PJSIP then creates no
    # channel on it at all (the outbound-guard tests originate there on
    # purpose). Tests of the trunk state turn it on, with a PublicNetwork
    # (sandbox/network.py) answering the qualify.
    carrier_qualify_seconds: int = 0
    # asterisk.conf [options] to change from the shipped values (a benchmark's
    # 2,000 concurrent calls need more channels than the shipped maxcalls).
    options: Mapping[str, str] = field(default_factory=dict)
    # PJSIP's timer B in ms (how long an unanswered INVITE is retransmitted;
    # T1 is set to a 64th of it, as RFC 3261 has them), 0: PJSIP's own 32 s. A
    # test of an unreachable peer need not wait out the production figure.
    invite_timeout_ms: int = 0
    _process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        # PJSIP sends the next OPTIONS on time even while the last one waits out
        # its timeout: shorter, and the statuses of two qualifies interleave
        # (Reachable, then the older probe's Unreachable).
        qualify = self.carrier_qualify_seconds
        if qualify < 0 or 0 < qualify <= CARRIER_QUALIFY_TIMEOUT:
            raise ValueError(f"carrier_qualify_seconds must be 0 (off) or more than the "
                             f"{CARRIER_QUALIFY_TIMEOUT} s qualify timeout, not {qualify}")
        if self.invite_timeout_ms and self.invite_timeout_ms < 64 * MIN_TIMER_T1_MS:
            raise ValueError(f"invite_timeout_ms must be 0 (PJSIP's default) or at least "
                             f"{64 * MIN_TIMER_T1_MS} (T1 = a 64th of it, PJSIP's least "
                             f"T1 is {MIN_TIMER_T1_MS} ms), not {self.invite_timeout_ms}")

    @property
    def etc_dir(self) -> str:
        return f"/etc/hotline-pbx/{self.name}"

    @property
    def run_dir(self) -> str:
        return f"/run/hotline-pbx/{self.name}"

    @property
    def log_path(self) -> Path:
        return self.root / self.run_dir.lstrip("/") / "log" / "messages.log"

    # -- lifecycle ----------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        ensure_root(self.root)
        reap_orphans(self.root)
        isolate_name_lookups(self.root)
        self.install_config()
        mount_proc(self.root)
        console = self.root / self.run_dir.lstrip("/") / "console.log"
        with console.open("wb") as out:
            self._process = subprocess.Popen(
                ["chroot", str(self.root), "asterisk", "-C", f"{self.etc_dir}/asterisk.conf",
                 "-f", "-n", "-q"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_fully_booted(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 15.0) -> None:
        """Stop Asterisk (gracefully, then by force) and release /proc when unused."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(SandboxError, subprocess.TimeoutExpired):
                self.rx("core stop now", timeout=5)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        release_proc(self.root)

    def kill(self) -> None:
        """Crash Asterisk (SIGKILL): no hang-ups, no goodbye on AMI, as on a power cut."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(5)
        release_proc(self.root)

    def __enter__(self) -> AsteriskSandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- driving ------------------------------------------------------------

    def rx(self, command: str, timeout: float = 10.0) -> str:
        """Run one CLI command through the remote console and return its output."""
        try:
            result = subprocess.run(
                ["chroot", str(self.root), "asterisk", "-C", f"{self.etc_dir}/asterisk.conf",
                 "-rx", command],
                capture_output=True, timeout=timeout, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"asterisk -rx {command!r} timed out") from exc
        if result.returncode != 0:
            raise SandboxError(
                f"asterisk -rx {command!r} failed: {result.stderr.decode(errors='replace')}"
            )
        return result.stdout.decode(errors="replace")

    def ami_action(self, action: Mapping[str, str], timeout: float = 5.0) -> str:
        """Send one AMI action on a connection of its own; return the raw response.

        For tests and scripts that drive the PBX directly, apart from the daemon.
        """
        with socket.create_connection(("127.0.0.1", self.ports.ami), timeout=timeout) as sock:
            def send(fields: Mapping[str, str]) -> None:
                sock.sendall(("".join(f"{k}: {v}\r\n" for k, v in fields.items())
                              + "\r\n").encode())

            send({"Action": "Login", "Username": self.ami_user, "Secret": self.ami_secret,
                  "Events": "off"})
            send({**action, "ActionID": "sandbox-1"})
            data = b""
            deadline = time.monotonic() + timeout
            while not _has_whole_reply(data, b"ActionID: sandbox-1") and (
                time.monotonic() < deadline
            ):
                data += sock.recv(65536)
            return data.decode(errors="replace")

    def set_global(self, name: str, value: str) -> None:
        self.rx(f"dialplan set global {name} {value}")

    def active_channels(self) -> int:
        out = self.rx("core show channels count")
        match = re.search(r"(\d+) active channel", out)
        return int(match.group(1)) if match else 0

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until no channel is up (every call of a test has ended)."""
        deadline = time.monotonic() + timeout
        while self.active_channels() > 0:
            if time.monotonic() > deadline:
                raise SandboxError(f"channels still up after {timeout}s:\n"
                                   + self.rx("core show channels concise"))
            time.sleep(0.2)

    # -- configuration ------------------------------------------------------

    def install_config(self) -> None:
        """Write :meth:`config_files` and this instance's asterisk.conf into the root."""
        etc = self.root / self.etc_dir.lstrip("/")
        run = self.root / self.run_dir.lstrip("/")
        shutil.rmtree(etc, ignore_errors=True)
        shutil.rmtree(run, ignore_errors=True)
        etc.mkdir(parents=True)
        for sub in ("run", "log", "spool", "db", "cache"):
            (run / sub).mkdir(parents=True, exist_ok=True)
        # Who owns this instance: a later run reaps it if this process died
        # without stopping it (SIGKILL, a CI timeout).
        (run / "owner.pid").write_text(str(os.getpid()))
        for name, text in self.config_files().items():
            (etc / name).write_text(text)
        (etc / "asterisk.conf").write_text(self._asterisk_conf())

    def config_files(self) -> dict[str, str]:
        """This instance's configuration files but asterisk.conf (name → text): our
        asterisk-conf/, dialplan/ and sandbox/, on our ports."""
        return {conf.name: self._render(conf.name, conf.read_text())
                for source in config_sources() for conf in sorted(source.glob("*.conf"))}

    def _asterisk_conf(self) -> str:
        shipped = (shipped_dir("asterisk-conf") / "asterisk.conf").read_text()
        # The header at the start of a line: the file's comments name "[options]"
        # too, and a copy from there made an empty first [options] that Asterisk
        # read instead of ours (maxcalls was "Not set").
        header = re.search(r"(?m)^\[options\]$", shipped)
        if header is None:
            raise SandboxError("the shipped asterisk.conf has no [options] section")
        options = shipped[header.start():]
        for key, value in self.options.items():
            options, found = re.subn(rf"(?m)^{re.escape(key)} = .*$", f"{key} = {value}",
                                     options)
            if not found:
                options = options.replace("[options]\n", f"[options]\n{key} = {value}\n", 1)
        return (
            "[directories]\n"
            f"astetcdir => {self.etc_dir}\n"
            "astmoddir => /usr/lib/x86_64-linux-gnu/asterisk/modules\n"
            "astvarlibdir => /var/lib/asterisk\n"
            f"astdbdir => {self.run_dir}/db\n"
            "astkeydir => /var/lib/asterisk\n"
            "astdatadir => /usr/share/asterisk\n"
            "astagidir => /usr/share/asterisk/agi-bin\n"
            f"astspooldir => {self.run_dir}/spool\n"
            f"astrundir => {self.run_dir}/run\n"
            f"astlogdir => {self.run_dir}/log\n"
            f"astcachedir => {self.run_dir}/cache\n"
            "astsbindir => /usr/sbin\n\n" + options
        )

    def _render(self, name: str, text: str) -> str:
        """Put this instance's ports and secrets into a shipped config file."""
        p = self.ports
        if name == "manager.conf":
            text = re.sub(r"(?m)^port = \d+", f"port = {p.ami}", text)
            text = re.sub(r"(?m)^secret = .*", f"secret = {self.ami_secret}", text)
            text = text.replace("[hotline]", f"[{self.ami_user}]")
            # The tests' own observer: every event, not the daemon's filtered few.
            text += (f"\n[{OBSERVER_USER}]\nsecret = {self.ami_secret}\n"
                     "deny = 0.0.0.0/0.0.0.0\npermit = 127.0.0.1/255.255.255.255\n"
                     "read = all\nwrite = system,call,originate,reporting\n")
        elif name == "http.conf":
            text = re.sub(r"(?m)^bindport = \d+", f"bindport = {p.http}", text)
        elif name == "ari.conf":
            text = re.sub(r"(?m)^password = .*", f"password = {self.ari_password}", text)
            text = text.replace("[hotline]", f"[{self.ari_user}]")
        elif name == "pjsip.conf":
            text = text.replace("bind = 127.0.0.1:5060", f"bind = 127.0.0.1:{p.sip}")
            text = text.replace("@127.0.0.1:5090", f"@127.0.0.1:{p.carrier_peer}")
            text = text.replace("@127.0.0.1:5091", f"@127.0.0.1:{p.mobile_peer}")
            # Every phone's placeholder password ("change-me-<phone>").
            text, phones = re.subn(r"(?m)^password = change-me-\S+$",
                                   f"password = {self.phone_password}", text)
            if not phones:
                raise SandboxError("expected the phones' change-me passwords in pjsip.conf")
            # The carrier AOR's is the only qualify in the shipped file.
            text = replace_once(text, "\nqualify_frequency = 30\n",
                                f"\nqualify_frequency = {self.carrier_qualify_seconds}\n")
            if self.invite_timeout_ms:
                if re.search(r"(?m)^type = system$", text):
                    raise SandboxError("pjsip.conf has a [system] section of its own now")
                text += (f"\n[system]\ntype = system\ntimer_t1 = {self.invite_timeout_ms // 64}"
                         f"\ntimer_b = {self.invite_timeout_ms}\n")
        elif name == "extensions_hotline.conf":
            text = re.sub(r"(?m)^HOTLINE_AGI_HOST=.*", f"HOTLINE_AGI_HOST=127.0.0.1:{p.agi}", text)
            # Asterisk reads only the first [globals] context: ours go there,
            # replacing a shipped value of the same name.
            for key, value in {**SANDBOX_GLOBALS, **self.globals}.items():
                line = f"{key}={value}"
                text, found = re.subn(rf"(?m)^{re.escape(key)}=.*$", line, text)
                if not found:
                    text = text.replace("[globals]\n", f"[globals]\n{line}\n", 1)
        return text

    def _wait_fully_booted(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise SandboxError(f"asterisk exited with {self._process.returncode} while "
                                   f"starting; see {self.log_path.parent}")
            try:
                self.rx("core waitfullybooted", timeout=max(1.0, deadline - time.monotonic()))
                return
            except SandboxError as exc:
                last_error = str(exc)
                time.sleep(0.2)
        raise SandboxError(f"asterisk did not boot within {timeout}s: {last_error}")


def replace_once(text: str, old: str, new: str) -> str:
    """``text`` with its one ``old`` replaced: a shipped file that changed shape
    fails the sandbox loudly instead of running with the sample value."""
    if text.count(old) != 1:
        raise SandboxError(f"expected exactly one {old!r} in a configuration file")
    return text.replace(old, new)


# -- the shared root ---------------------------------------------------------


def ensure_root(root: Path = DEFAULT_ROOT) -> None:
    """Build the Debian unstable root with Asterisk 22 unless it is cached."""
    if (root / ".hotline-sandbox-ok").exists():
        return
    result = subprocess.run(["bash", str(harness_path(BUILD_SCRIPT)), str(root)], check=False)
    if result.returncode != 0:
        raise SandboxError(f"building the Asterisk root failed (exit {result.returncode})")


def _has_whole_reply(data: bytes, marker: bytes) -> bool:
    """Has the message carrying ``marker`` arrived up to its closing blank line?"""
    at = data.find(marker)
    return at >= 0 and data.find(b"\r\n\r\n", at) >= 0


def isolate_name_lookups(root: Path = DEFAULT_ROOT) -> None:
    """Give the root a hosts file and a DNS server of its own, mostly absent.

    Asterisk looks up the host name (and, to find its own address, a root name
    server) while setting up channels; in a debootstrap root with the host's
    resolver and no network those lookups stall for seconds. The sandbox only
    ever talks to 127.0.0.1: a refused lookup is the right, instant answer.
    Only a failover test serves names there (SRV records for ``hagi://``).
    """
    etc = root / "etc"
    (etc / "hosts").write_text(
        f"127.0.0.1\tlocalhost {socket.gethostname()}\n::1\tlocalhost ip6-localhost\n"
    )
    resolv = etc / "resolv.conf"
    resolv.unlink(missing_ok=True)  # may be a symlink into the host's runtime dirs
    resolv.write_text("# hotline-pbx sandbox: loopback only, DNS only for hagi:// tests\n"
                      f"nameserver {SANDBOX_DNS}\noptions timeout:1 attempts:1\n")


def reap_orphans(root: Path = DEFAULT_ROOT) -> list[str]:
    """Stop sandbox Asterisks whose owning process is gone; returns their names."""
    reaped = []
    instances = root / "run" / "hotline-pbx"
    for owner_file in instances.glob("*/owner.pid"):
        try:
            owner = int(owner_file.read_text())
            os.kill(owner, 0)
            continue  # the owner is alive: not an orphan
        except ProcessLookupError:
            pass
        except (ValueError, OSError):
            continue
        name = owner_file.parent.name
        pattern = f"/etc/hotline-pbx/{name}/asterisk.conf"
        for pid in _pids_in_root(root):
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                if pattern.encode() in cmdline:
                    os.kill(pid, 9)
        owner_file.unlink(missing_ok=True)
        reaped.append(name)
    return reaped


def _pids_in_root(root: Path) -> list[int]:
    resolved = str(root.resolve())
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{entry}/root") == resolved:
                    pids.append(int(entry))
    return pids


def _proc_mounted(root: Path) -> bool:
    target = str((root / "proc").resolve())
    with open("/proc/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts)


def mount_proc(root: Path) -> None:
    if not _proc_mounted(root):
        subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)


def _asterisk_running_in(root: Path) -> bool:
    """Is any process still running with this root as its root directory?"""
    return bool(_pids_in_root(root))


def release_proc(root: Path) -> None:
    """Unmount the root's /proc once no sandbox process is left inside it."""
    if _proc_mounted(root) and not _asterisk_running_in(root):
        subprocess.run(["umount", "-l", str(root / "proc")], check=False)


@contextlib.contextmanager
def running_sandbox(name: str, ports: PbxPorts | None = None,
                    **kwargs: object) -> Iterator[AsteriskSandbox]:
    """An Asterisk sandbox that is always stopped, whatever happens inside."""
    sandbox = AsteriskSandbox(name=name, ports=ports or PbxPorts.allocate(), **kwargs)  # type: ignore[arg-type]
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
