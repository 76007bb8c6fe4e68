"""Private Redis servers for the tests that must stop, cut or cluster one: a redis-server on a
loopback port, a TCP proxy that can cut a client off, and a 3-master Redis Cluster. Shared by
the cache and store tests (imported as ``redis_servers``: ``tests/`` is on pytest's path), whose
conftest files import the fixtures at the end (own_redis, proxy, redis_cluster)."""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis


def binaries_missing() -> str | None:
    """Why a private server cannot be started here, or None."""
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        return "redis-server/redis-cli binaries not installed"
    return None


def free_port() -> int:
    """A free loopback port whose cluster bus port (port + 10000) is valid and free too."""
    for _ in range(200):
        port = random.randint(20000, 50000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair found")


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.02)
    raise TimeoutError("service did not come up")


class RedisServer:
    """A redis-server process of our own on a loopback port; stop() and start() at will."""

    def __init__(self, workdir: Path, port: int, *extra: str) -> None:
        self.workdir = workdir
        self.port = port
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.workdir),
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            wait_for(lambda: bool(client.ping()))
        except TimeoutError:
            self.stop()
            raise
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def kill(self) -> None:
        """Die at once (SIGKILL): no save, no goodbye to the clients."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


class TcpProxy:
    """A loopback TCP proxy to a server; ``cut()`` drops every connection through it and
    refuses new ones (the server stays up for everyone else), ``heal()`` lets them through."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data or self._cut.is_set():
                    break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.close()

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def heal(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._closed.set()
        self.cut()
        self._listener.close()


CLUSTER_SLOTS = 16384


def _cluster_ready(ports: list[int]) -> bool:
    """Every node sees the whole cluster: state ok, all slots served, every node known.
    Asking one node is not enough: the others learn the slot map by gossip a moment later, and
    a client sent to them meanwhile gets CLUSTERDOWN."""
    for port in ports:
        client = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
        try:
            text = client.execute_command("CLUSTER INFO")
        finally:
            client.close()
        if isinstance(text, dict):
            info = {str(k): str(v) for k, v in text.items()}
        else:
            info = dict(line.split(":", 1) for line in str(text).split() if ":" in line)
        if (
            info.get("cluster_state") != "ok"
            or info.get("cluster_slots_ok") != str(CLUSTER_SLOTS)
            or info.get("cluster_known_nodes") != str(len(ports))
        ):
            return False
    return True


@contextlib.contextmanager
def redis_cluster_nodes(masters: int = 3) -> Iterator[list[int]]:
    """A private Redis Cluster of ``masters`` nodes, no replicas; yields the ports once every
    node agrees the cluster is up, and stops and removes it afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="turbina-cluster-"))
    servers: list[RedisServer] = []
    try:
        for index in range(masters):
            node_dir = workdir / f"n{index}"
            node_dir.mkdir()
            server = RedisServer(
                node_dir,
                free_port(),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(node_dir / "nodes.conf"),
                "--cluster-node-timeout",
                "2000",
            )
            server.start()
            servers.append(server)
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *[f"127.0.0.1:{s.port}" for s in servers],
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        ports = [s.port for s in servers]
        wait_for(lambda: _cluster_ready(ports), timeout=30)
        yield ports
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def own_redis(tmp_path: Path, service_missing: Callable[[str], None]) -> Iterator[RedisServer]:
    """A private redis-server this test may stop and start."""
    reason = binaries_missing()
    if reason:
        service_missing(reason)
    server = RedisServer(tmp_path, free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(service_missing: Callable[[str], None]) -> Iterator[list[int]]:
    """A private 3-master Redis Cluster on loopback ports; yields the ports."""
    reason = binaries_missing()
    if reason:
        service_missing(reason)
    with redis_cluster_nodes() as ports:
        yield ports


@pytest.fixture
def proxy(own_redis: RedisServer) -> Iterator[TcpProxy]:
    """A proxy in front of the private redis-server."""
    tcp = TcpProxy(own_redis.port)
    yield tcp
    tcp.close()
