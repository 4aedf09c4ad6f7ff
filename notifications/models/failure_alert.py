"""Failure-alert throttle: one row per (organization, job type) that has failed."""

from django.db import models
from django.db.models import Q

from hcm.models import Organization


class JobFailureAlert(models.Model):
    """The current alert window of one organization's job type (no organization: a
    service-wide job, alerting the platform operators). The first failure after a window
    has passed alerts at once and opens a new window; failures inside it are counted and
    reported by the next alert."""

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="job_failure_alerts"
    )
    job_type = models.CharField(max_length=100)
    window_started_at = models.DateTimeField()
    # Failures inside the window after the one that alerted: the next alert's count.
    unreported = models.PositiveIntegerField(default=0)
    last_job_id = models.CharField(max_length=40)
    alerts_sent = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "notification_job_failure_alerts"
        constraints = [
            models.UniqueConstraint(fields=["organization", "job_type"], name="job_failure_alert_org_type_uniq"),
            models.UniqueConstraint(
                fields=["job_type"], condition=Q(organization__isnull=True), name="job_failure_alert_service_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_type} failures of {self.organization_id or 'the service'}"
