"""An event reported through the API: checked at once, fanned out by one job.

The request checks everything a client can get wrong (the event, its data, the
recipients) and queues one `notification_fanout` job; the job does notify()'s fan-out.
Its payload names the recipients by id (or none: the organization's system admins, as
they are when the job runs).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hcm.models import Organization
from jobs.models import BackgroundJob, JobTrigger
from jobs.services import job_enqueue
from notifications.events import get_event_or_error
from notifications.job_types import FANOUT_JOB_TYPE
from notifications.services.deliveries import JOB_PRIORITY
from notifications.services.notify import notify, recipients_check


@dataclass(frozen=True)
class QueuedEvent:
    job: BackgroundJob
    event: str
    recipient_count: int


def notification_event_enqueue(
    organization: Organization,
    event: str,
    *,
    data: dict[str, Any] | None,
    recipients: list[int] | None,
    created_by: str,
) -> QueuedEvent:
    """Check the event, its data and its recipients (InvalidNotification naming the field,
    nothing saved), then queue the job that fans it out."""
    spec = get_event_or_error(event)
    clean = spec.clean_data(data)
    count = recipients_check(organization, recipients)
    job, _ = job_enqueue(
        organization=organization,
        job_type=FANOUT_JOB_TYPE,
        payload={
            "organization_id": organization.pk,
            "event": spec.name,
            "data": clean,
            "recipient_ids": sorted(set(recipients)) if recipients is not None else None,
            "created_by": created_by,
        },
        priority=JOB_PRIORITY.get(spec.priority, "medium"),
        created_by=created_by,
        trigger=JobTrigger.USER,
        trigger_id=created_by,
    )
    return QueuedEvent(job=job, event=spec.name, recipient_count=count)


def notification_event_fan_out(
    organization: Organization, payload: dict[str, Any], *, created_by: str, within: Callable[[], None] | None = None
) -> dict[str, int]:
    """The job's body: notify() as the API would have, in one transaction. Returns the
    counts for the job log (recipients, notifications, deliveries)."""
    result = notify(
        organization,
        payload["event"],
        data=payload["data"],
        recipients=payload["recipient_ids"],
        created_by=created_by,
        within=within,
    )
    return {
        "recipients": result.recipients,
        "notifications": len(result.notifications),
        "deliveries": len(result.deliveries),
    }
