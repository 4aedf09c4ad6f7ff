"""What one email costs the process that sends it.

    .venv/bin/python bench/email_costs.py [--messages N] [--repeat K]

Sends N messages (default 2,000) with `notifications.email.sending.send_org_email` — the
one way every email goes: the fan-out's batches, notification_send, the test email — over
Django's SMTP backend to an aiosmtpd sink in another process (so the sink's own CPU is not
counted), on one kept-open connection, K times (default 3). The messages are the size of
the fan-out's (`bench/fanout.py`: multipart text + HTML, the unsubscribe headers). Prints
the sending process's CPU time per message (`time.process_time`) and the wall time per
message of each run, with the median and the best. No database is touched.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fanout import SINK_HTML, SINK_TEXT  # noqa: E402  (bench/, the script's own directory)

HEADERS = {"List-Unsubscribe": "<https://hcm.example/u/token>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def start_sink(port: int) -> subprocess.Popen:
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"]
    )
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return sink
        except OSError:
            time.sleep(0.05)
    sink.kill()
    raise RuntimeError(f"the aiosmtpd sink did not listen on port {port}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    a = parser.parse_args()

    from tests.servers import free_port

    port = free_port()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="hcm.settings",
        SECRET_KEY="bench-only-secret-key",
        LOG_LEVEL="WARNING",
        DATABASE_URL=f"sqlite:///{ROOT / 'var' / 'bench' / 'email_costs.sqlite3'}",  # never opened
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
    )
    import django

    django.setup()
    from notifications.email.sending import send_org_email
    from notifications.models import NotificationSettings

    settings = NotificationSettings(
        organization_id="org_bench", email_provider="smtp", email_from_address="hr@bench.test", email_from_name="HR"
    )

    def send(n: int) -> None:
        for i in range(n):
            send_org_email(
                settings,
                to=[f"person{i}@bench.test"],
                subject="Critical alert: Disk full on db-1",
                text=SINK_TEXT,
                html=SINK_HTML,
                headers=HEADERS,
            )

    sink = start_sink(port)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    runs: list[tuple[float, float]] = []
    try:
        send(100)  # warm-up: the connection opened, smtplib imported
        for _ in range(a.repeat):
            cpu, wall = time.process_time(), time.perf_counter()
            send(a.messages)
            runs.append(
                ((time.process_time() - cpu) / a.messages * 1e6, (time.perf_counter() - wall) / a.messages * 1e6)
            )
    finally:
        sink.terminate()
        sink.wait(timeout=10)

    cpus = [c for c, _ in runs]
    print(f"\nsend_org_email, {a.messages:,} messages per run to an aiosmtpd sink in another process")
    print(f"(load average before the runs: {load})\n")
    print("| run | CPU per message | wall per message |")
    print("| --- | ---: | ---: |")
    for i, (cpu, wall) in enumerate(runs, 1):
        print(f"| {i} | {cpu:.0f} µs | {wall:.0f} µs |")
    print(f"\nCPU per message: median {statistics.median(cpus):.0f} µs, best {min(cpus):.0f} µs.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
