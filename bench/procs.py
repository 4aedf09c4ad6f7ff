"""Processes the benchmark starts: driver actions and worker processes, and /proc readings."""

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
PYTHON = sys.executable


class BenchError(RuntimeError):
    pass


def driver(system: str, env: dict[str, str], *args: str, on_line: Callable[[dict], None] | None = None) -> dict:
    """Run one bench/driver.py action; returns its last JSON line (each line goes to on_line)."""
    argv = [PYTHON, str(BENCH_DIR / "driver.py"), system, *args]
    # stderr to a file, not a pipe: a chatty child must never block on a full pipe.
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(argv, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        last: dict = {}
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                last = json.loads(line)
                if on_line:
                    on_line(last)
        except BaseException:
            proc.kill()
            raise
        if proc.wait() != 0:
            errors.seek(0)
            raise BenchError(f"driver {system} {' '.join(args)} failed:\n{errors.read()[-3000:]}")
    return last


@dataclass
class WorkerProcs:
    """Worker processes of one system, started together and stopped with SIGTERM."""

    argv: list[str]
    procs: list[subprocess.Popen]
    log_path: Path

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def memory_kb(self) -> list[dict[str, int]]:
        return [proc_memory_kb(p.pid) for p in self.procs]

    def check_alive(self) -> None:
        for p in self.procs:
            if p.poll() is not None:
                raise BenchError(f"worker {p.pid} exited with {p.returncode}; see {self.log_path}")

    def stop(self, timeout: float = 60.0) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def start_workers(argv: list[str], env: dict[str, str], count: int, log_path: Path) -> WorkerProcs:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - shared by the children, closed with them
    procs = [
        subprocess.Popen(argv, cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT) for _ in range(count)
    ]
    log.close()  # the children hold their own descriptors
    return WorkerProcs(argv=argv, procs=procs, log_path=log_path)


def proc_memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (resident high-water mark) of a live process, in kB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
