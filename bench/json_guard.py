"""What the API's JSON limits (hcm/json_guard.py) cost per request body, against a plain
json.loads of the same text: `.venv/bin/python bench/json_guard.py`."""

import json
import os
import sys
import timeit
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcm.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

import django  # noqa: E402

django.setup()

from hcm import json_guard  # noqa: E402

BODIES = {
    "job create (~150 B)": json.dumps(
        {"job_type": "email_send", "payload": {"to": "a@example.com", "subject": "Hi", "body": "Hello"}}
    ),
    "custom_settings 16 KiB": json.dumps({"custom_settings": {f"key{i}": {"v": [i, "x" * 20]} for i in range(300)}}),
    "1.4 MB, 40,000 small objects": json.dumps({"items": [{"id": i, "tags": ["a", "b"]} for i in range(40_000)]}),
    "hostile: 5,000 deep (rejected)": "[" * 5000 + "]" * 5000,
}


def guarded(text: str) -> None:
    try:
        json_guard.check_depth(text)
    except json_guard.JSONLimitError:
        return
    value = json.loads(text)
    if json_guard.suspect(text):
        for _ in json_guard.problems(value):
            pass


def main() -> None:
    print("| body | bytes | json.loads | with the limits | overhead |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, text in BODIES.items():
        number = max(1, 200_000 // len(text))
        plain = None
        if not name.startswith("hostile"):
            plain = min(timeit.repeat(partial(json.loads, text), number=number, repeat=5)) / number
        limited = min(timeit.repeat(partial(guarded, text), number=number, repeat=5)) / number
        plain_text = f"{plain * 1e3:.3f} ms" if plain is not None else "RecursionError"
        overhead = f"+{limited - plain:.2e} s" if plain is not None else "-"
        print(f"| {name} | {len(text):,} | {plain_text} | {limited * 1e3:.3f} ms | {overhead} |")


if __name__ == "__main__":
    main()
