"""Cron expressions read in a timezone: validation and the next tick, DST included.

Ticks are computed on the wall clock of the schedule's zone (croniter on naive local
times), then each wall time is turned into an instant with zoneinfo. Daylight-saving
changes follow Vixie cron:

- a fixed-hour expression (`30 2 * * *`) runs once a day: on the spring-forward day a wall
  time that does not exist runs after the jump, shifted by the gap (02:30 → 03:30); on the
  fall-back day a wall time that occurs twice runs at its first occurrence only;
- an expression whose hour field starts with `*` (`0 * * * *`, `*/15 * * * *`) follows
  elapsed time: wall times in the gap do not exist and are skipped, and the repeated hour
  runs twice, so an hourly job still runs once every hour.
"""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadDateError, CroniterError, croniter

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# Larger than any offset change between two consecutive wall times of one zone: the
# window in which converting wall times to instants can reorder them.
_MAX_SHIFT = timedelta(hours=3)
_MAX_CANDIDATES = 2000


class InvalidCron(ValueError):
    """The expression is not five valid cron fields, or never matches a date."""


def cron_normalize(expression: str) -> str:
    """The expression as five space-separated fields (aliases expanded); InvalidCron if not."""
    text = " ".join(str(expression).split())
    text = ALIASES.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) != 5:
        raise InvalidCron(
            f"Expected 5 fields (minute hour day-of-month month day-of-week) or one of "
            f"{', '.join(ALIASES)}; got {len(fields) if text else 0}."
        )
    if any(_varies_per_caller(part) for field in fields for part in re.split(r"[,/-]", field)):
        # croniter's R (random) and H (hashed) would give each worker different ticks.
        raise InvalidCron("R (random) and H (hashed) values are not supported.")
    try:
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        raise InvalidCron(f"{text!r} never matches a date.") from None
    except (CroniterError, ValueError, KeyError) as exc:
        raise InvalidCron(f"Not a valid cron expression: {exc}") from None
    return text


def _varies_per_caller(part: str) -> bool:
    part = part.upper()
    return part == "R" or part.startswith(("R(", "H"))


def timezone_get(name: str) -> ZoneInfo:
    """The IANA zone called `name`; ValueError naming the problem if there is none."""
    if not name or name != name.strip() or name not in _zone_names():
        raise ValueError(f"Unknown timezone {name!r}; use an IANA name such as UTC or Europe/Berlin.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"Unknown timezone {name!r}; use an IANA name such as UTC or Europe/Berlin.") from None


def _zone_names() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones() | {"UTC"}
    return _ZONES


_ZONES: set[str] | None = None


def next_tick(expression: str, tz: ZoneInfo, *, after: datetime) -> datetime:
    """The first tick strictly after the instant `after`, as an aware UTC datetime."""
    expression = cron_normalize(expression)
    follows_elapsed_time = expression.split(" ")[1].startswith("*")
    after = after.astimezone(UTC)
    wall_after = after.astimezone(tz).replace(tzinfo=None)
    # Around a DST change a wall time earlier than wall_after can still be a later instant
    # (the second pass of a repeated hour): start that much before.
    candidates = croniter(expression, wall_after - _offset_change_near(after, tz))
    best: datetime | None = None
    best_wall: datetime | None = None
    for _ in range(_MAX_CANDIDATES):
        wall = candidates.get_next(datetime)
        # Past the window in which the offset change can reorder wall times and instants.
        if best is not None and best_wall is not None and wall > best_wall + 2 * _offset_change_near(best, tz):
            break
        for instant in _instants(wall, tz, follows_elapsed_time=follows_elapsed_time):
            if instant > after and (best is None or instant < best):
                best, best_wall = instant, wall
    if best is None:
        raise InvalidCron(f"{expression!r} has no tick after {after.isoformat()}.")
    return best


def _offset_change_near(instant: datetime, tz: ZoneInfo) -> timedelta:
    """How much the zone's UTC offset changes within _MAX_SHIFT of `instant` (usually 0)."""
    before = (instant - _MAX_SHIFT).astimezone(tz).utcoffset() or timedelta(0)
    later = (instant + _MAX_SHIFT).astimezone(tz).utcoffset() or timedelta(0)
    return abs(later - before)


def _instants(wall: datetime, tz: ZoneInfo, *, follows_elapsed_time: bool) -> list[datetime]:
    """The instants at which the naive local time `wall` happens in `tz` (see module doc)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    if first < second:  # the repeated hour after clocks go back
        return [first, second] if follows_elapsed_time else [first]
    # A wall time skipped when clocks go forward: fold=0 reads it with the old offset,
    # which lands as far after the jump as the time was into the gap.
    return [] if follows_elapsed_time else [first]
