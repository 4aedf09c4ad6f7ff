"""Organizations and the users who belong to them."""

import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models


def new_organization_id() -> str:
    return "org_" + secrets.token_hex(6)


class Organization(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_organization_id, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA zone, e.g. Europe/Berlin")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "organizations"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    SYSTEM_ADMIN = "system_admin", "System admin"
    MEMBER = "member", "Member"


class User(AbstractUser):
    """A person or service account; belongs to one organization with one role.

    Superusers administer every organization from the admin site and may have none.
    """

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="users"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        db_table = "users"
        # Platform operators act on what all organizations share (service-scope jobs,
        # service-wide pauses and schedules); superusers have it implicitly.
        permissions = [("operate_platform", "Can run, schedule and pause service-wide jobs")]

    @property
    def is_system_admin(self) -> bool:
        return self.organization_id is not None and self.role == Role.SYSTEM_ADMIN


class MetricCounter(models.Model):
    """A Prometheus counter (or histogram) kept in the database, so every web process
    reports the same value. Advanced at scrape time by hcm/metrics.py from a time-ordered
    log (the job attempt log, notifications) since the counter's cursor."""

    name = models.CharField(max_length=100)
    labels = models.CharField(max_length=500, help_text="JSON object of label values, keys sorted.")
    value = models.FloatField(default=0, help_text="Events counted.")
    total = models.FloatField(default=0, help_text="Histograms: sum of the observed values.")
    buckets = models.JSONField(null=True, blank=True, help_text="Histograms: cumulative count per bucket bound.")

    class Meta:
        db_table = "metric_counters"
        constraints = [models.UniqueConstraint(fields=["name", "labels"], name="metric_counters_name_labels_uniq")]

    def __str__(self) -> str:
        return f"{self.name}{self.labels} = {self.value:g}"


class MetricCursor(models.Model):
    """How far a tally has counted its log: events up to `counted_until` are in the counters."""

    name = models.CharField(primary_key=True, max_length=100)
    counted_until = models.DateTimeField()

    class Meta:
        db_table = "metric_cursors"

    def __str__(self) -> str:
        return f"{self.name} until {self.counted_until:%Y-%m-%d %H:%M:%S}"
