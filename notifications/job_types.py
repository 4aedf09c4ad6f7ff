"""The notifications app's job type names and payload limits, apart from the services that
use them: a worker registers the job types (notifications/job_handlers.py) without
importing those services until a job of the type runs (issue 13: a leaner worker)."""

SEND_JOB_TYPE = "notification_send"
# A fan-out's deliveries, up to NOTIFICATIONS_SEND_BATCH_SIZE per job (at most MAX_BATCH_SIZE).
BATCH_JOB_TYPE = "notification_send_batch"
MAX_BATCH_SIZE = 1000
FANOUT_JOB_TYPE = "notification_fanout"
ALERT_JOB_TYPE = "job_failure_alert"
# Beyond this many ids, a client sends several events (or none: the system admins).
MAX_EVENT_RECIPIENTS = 50_000
