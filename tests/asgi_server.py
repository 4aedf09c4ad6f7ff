"""A real ASGI server (daphne, as production runs it) serving the project against the test
database, and a small Server-Sent Events client on a raw HTTP connection."""

import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import free_port
from tests.workers import ROOT, worker_env


@dataclass
class AsgiServer:
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def asgi_server(log_dir: Path, **env: str) -> Iterator[AsgiServer]:
    """`daphne hcm.asgi:application` on a free port; stopped (SIGTERM, then SIGKILL) at exit."""
    port = free_port()
    log = log_dir / f"daphne-{port}.log"
    environment = worker_env(DEBUG="1", LOG_LEVEL="WARNING", **env)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "hcm.asgi:application"],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = AsgiServer(port=port, process=process, log=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"daphne exited:\n{server.output()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"daphne did not start:\n{server.output()}") from None
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Event:
    event: str = "message"
    data: str = ""
    id: str | None = None
    comments: list[str] = field(default_factory=list)

    def json(self):
        return json.loads(self.data)


class SSEClient:
    """GET a stream and read its events one by one (the wire format, parsed by hand)."""

    def __init__(self, port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 15) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.conn.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = dict(self.response.getheaders())
        self.last_event_id: str | None = None
        self.retry: int | None = None

    def body(self) -> str:
        return self.response.read().decode()

    def next_event(self, *, skip_comments: bool = True) -> Event:
        """The next dispatched event (comments are collected on it); a bare comment block is
        returned as Event(event="comment") unless skip_comments."""
        event = Event()
        data: list[str] = []
        seen_field = False
        while True:
            raw = self.response.readline()
            if not raw:
                raise EOFError("stream closed")
            line = raw.decode().rstrip("\r\n")
            if line == "":
                if data or (seen_field and event.id is not None):
                    event.data = "\n".join(data)
                    if event.id is not None:
                        self.last_event_id = event.id
                    return event
                if event.comments and not skip_comments:
                    event.event = "comment"
                    return event
                event, data, seen_field = Event(), [], False
                continue
            if line.startswith(":"):
                event.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            seen_field = True
            if name == "event":
                event.event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event.id = value
            elif name == "retry":
                self.retry = int(value)

    def next_of(self, kind: str) -> Event:
        while True:
            event = self.next_event()
            if event.event == kind:
                return event

    def close(self) -> None:
        self.conn.close()
