"""Settings for the HCM system-settings service.

Every value that differs between deployments is read from the environment here, once;
the README's configuration table lists them.
"""

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from hcm.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DEBUG", False)

# Without a key, commands that neither serve nor run jobs still work (`help`, `--help`):
# SECRET_KEY_MISSING makes the servers (hcm.wsgi, hcm.asgi, the system check that runserver
# runs) and runworker refuse to start (hcm.startup). The stand-in key is random, so nothing
# signed or encrypted with it outlives the process.
SECRET_KEY = env_str("SECRET_KEY")
SECRET_KEY_MISSING = not SECRET_KEY and not DEBUG
if not SECRET_KEY:
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production" if DEBUG else secrets.token_urlsafe(50)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # First: its `runserver` replaces Django's and serves hcm.asgi (ASGI_APPLICATION), so the
    # development server runs the notification stream's async view as production does.
    "daphne",
    # Django's SimpleAdminConfig (admin modules are imported by hcm/urls.py's
    # admin.autodiscover(), so `runworker`, which serves no URLs, does not load them: ~17 MiB
    # per worker) with the admin's JSON form field (hcm/admin_apps.py).
    "hcm.admin_apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    # Used refresh tokens and logged-out ones are kept here (tables created by migrate).
    "rest_framework_simplejwt.token_blacklist",
    "django_ratelimit",
    "django_filters",
    # OpenAPI schema at /api/schema/ and Swagger UI at /api/docs/, served from local static
    # files (the sidecar ships the Swagger UI and ReDoc bundles: no CDN).
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "hcm",
    "jobs",
    "notifications",
]

MIDDLEWARE = [
    # First, so every response (redirects and errors too) carries X-Request-ID.
    "hcm.request_id.RequestIdMiddleware",
    # Then: a URL (or form post) with NUL or non-UTF-8 escapes is a 400 before anything reads it.
    "hcm.middleware.HostileInputMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's and Swagger UI's static files (after `collectstatic`) without a CDN
    # or a separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Innermost: turns the resolver's 404 page for /api/... into JSON, DEBUG or not.
    "hcm.middleware.ApiNotFoundJsonMiddleware",
]

ROOT_URLCONF = "hcm.urls"
WSGI_APPLICATION = "hcm.wsgi.application"
ASGI_APPLICATION = "hcm.asgi.application"
# People sign in at /accounts/login/ (the notification center), separately from the admin.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "notification-center"
AUTH_USER_MODEL = "hcm.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# SQLite is the embedded default; several processes (web + workers) share it, so it runs
# in WAL mode with a busy timeout and IMMEDIATE transactions: writers queue for the lock
# instead of failing with "database is locked" halfway through a transaction.
DEFAULT_SQLITE_PATH = VAR_DIR / "hcm.sqlite3"
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DEFAULT_SQLITE_PATH}")
_db = dj_database_url.parse(DATABASE_URL)
SQLITE_WAL_AUTOCHECKPOINT = env_int("SQLITE_WAL_AUTOCHECKPOINT", 10_000)
SQLITE_CHECKPOINT_THREAD = env_bool("SQLITE_CHECKPOINT_THREAD", True)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _db["CONN_MAX_AGE"] = 0 if _db["NAME"] == ":memory:" else env_int("CONN_MAX_AGE", 60)
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env_float("SQLITE_BUSY_TIMEOUT", 20.0),
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            # Every commit appends the pages it changed to the -wal file; a checkpoint copies
            # them back and fsyncs. With SQLITE_CHECKPOINT_THREAD (the default) a thread per
            # process does it and restarts the WAL at SQLITE_WAL_AUTOCHECKPOINT pages; the
            # backend then raises this to a fallback (hcm/db_backends/sqlite3/checkpointer.py).
            # Without it the commit that crosses SQLITE_WAL_AUTOCHECKPOINT pages (SQLite's
            # default: 1,000) checkpoints: at 10,000, every ~900 enqueues instead of every
            # ~90, a third of the fsync time per enqueue (README, Configuration). The -wal file
            # grows to about that many 4 KiB pages and is cut back to SQLITE_JOURNAL_SIZE_LIMIT bytes.
            f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT}; "
            f"PRAGMA journal_size_limit={env_int('SQLITE_JOURNAL_SIZE_LIMIT', 64 * 1024 * 1024)};"
        ),
    }
    # Tests need a file (not :memory:) so real worker processes see the same database.
    _db["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", str(VAR_DIR / "test_hcm.sqlite3"))}
else:
    # PostgreSQL: every process holds a bounded number of connections whatever its load.
    # Web processes share Django's psycopg pool (at most DB_POOL_MAX_SIZE each; a request
    # waits up to DB_POOL_TIMEOUT seconds for a free one). Persistent per-thread
    # connections (CONN_MAX_AGE > 0) are not bounded under the threaded development server,
    # so they are only used with the pool off (DB_POOL_MAX_SIZE=0). `runworker` replaces the
    # pool with one connection per thread (hcm.db).
    _db.setdefault("OPTIONS", {})
    _db["CONN_HEALTH_CHECKS"] = True
    DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 4)
    if DB_POOL_MAX_SIZE > 0:
        _db["CONN_MAX_AGE"] = 0  # Django refuses persistent connections with the pool
        _db["OPTIONS"]["pool"] = {
            "min_size": min(env_int("DB_POOL_MIN_SIZE", 1), DB_POOL_MAX_SIZE),
            "max_size": DB_POOL_MAX_SIZE,
            "timeout": env_float("DB_POOL_TIMEOUT", 10.0),
        }
    else:
        _db["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 0)
    if env_str("TEST_DATABASE_NAME"):
        _db["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME")}
# Django's backends plus writes held back until commit (hcm/db_backends/pending.py: the
# Tasks API's enqueues in a transaction are written together).
_db["ENGINE"] = {
    "django.db.backends.sqlite3": "hcm.db_backends.sqlite3",
    "django.db.backends.postgresql": "hcm.db_backends.postgresql",
}.get(_db["ENGINE"], _db["ENGINE"])
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------
# Rate limits must hold across several web processes, so the cache is never per-process:
# Redis when REDIS_URL is set, otherwise a table in the database (created by migrate).
# Two aliases: "default" for what the service caches (cache_flush clears it, only under
# its KEY_PREFIX, or one organization's prefix within it) and "ratelimit" for the
# rate-limit counters, which no job can flush.
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "hcm")
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    _redis = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    CACHES = {
        "default": {**_redis, "KEY_PREFIX": CACHE_KEY_PREFIX},
        "ratelimit": {**_redis, "KEY_PREFIX": f"{CACHE_KEY_PREFIX}-ratelimit"},
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "hcm.cache.AtomicDatabaseCache",
            "LOCATION": "hcm_cache",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        },
        "ratelimit": {"BACKEND": "hcm.cache.AtomicDatabaseCache", "LOCATION": "hcm_ratelimit"},
    }
RATELIMIT_USE_CACHE = "ratelimit"
# django-ratelimit only knows memcached/Redis as atomic; hcm.cache.AtomicDatabaseCache's
# incr() is a locked read-modify-write in one transaction, which is what the check wants.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 1)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    # A refresh returns a new refresh token and blacklists the one used (hcm.tokens).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Tokens carry a digest of the password hash: a password change revokes every token
    # issued before it (access tokens in JWTAuthentication, refresh tokens in hcm.tokens).
    "CHECK_REVOKE_TOKEN": True,
    # Tokens name the user only: role, organization and is_active are read from the
    # database on every request, so a change applies to the next one.
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["hcm.permissions.IsOrganizationMember"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # JSON only, with limits every database can store (hcm/parsers.py, hcm/json_guard.py).
    "DEFAULT_PARSER_CLASSES": ["hcm.parsers.SafeJSONParser"],
    "EXCEPTION_HANDLER": "hcm.errors.api_exception_handler",
    # Lists answer {"items", "total", "skip", "limit"}; writes spend per-user rate limits.
    "DEFAULT_PAGINATION_CLASS": "hcm.pagination.SkipLimitPagination",
    "DEFAULT_THROTTLE_CLASSES": ["hcm.throttles.UserRateLimitThrottle"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # hcm.openapi.AutoSchema adds the shared error responses to every operation.
    "DEFAULT_SCHEMA_CLASS": "hcm.openapi.AutoSchema",
}

# Client JSON (API bodies, the admin's JSON fields) nests at most this many levels.
API_JSON_MAX_DEPTH = env_int("API_JSON_MAX_DEPTH", 32)

# --- OpenAPI (drf-spectacular) ----------------------------------------------------------
SPECTACULAR_SETTINGS = {
    "TITLE": "HCM system settings API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Per-organization notification settings, in-app notifications and background jobs. "
        "Authenticate with `POST /api/auth/token` and send `Authorization: Bearer <access>`; "
        "`POST /api/auth/token/refresh` trades a refresh token (usable once) for a new pair, "
        "`POST /api/auth/logout` revokes one. "
        "Every error is JSON with `detail`; validation errors (400) also have `errors` naming each field.\n\n"
        "**Roles.** Every user belongs to one organization as `system_admin` (everything under "
        "`/api/system/`) or `member` (their own notification center). Data is always the caller's "
        "organization's: another organization's object is a 404.\n\n"
        "**Scopes.** Job types act on one organization's data (`organization`: email_send, cleanup, "
        "cache_flush), on what all organizations share (`service`: db_optimize, log_rotate, service-wide "
        "cleanup and cache_flush, service-wide pauses and schedules — platform operators only, a superuser or "
        "a user with the `hcm.operate_platform` permission; others get 403), or are `internal` "
        "(notification_send, notification_digest, django_task, noop: never offered by the API)."
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Separate request and response components, so read-only fields are not asked for as input.
    "COMPONENT_SPLIT_REQUEST": True,
    # The API's one security scheme: Bearer JWT ("jwtAuth", http bearer). Session auth serves
    # the admin and the browsable API only, so it is left out of the schema.
    "AUTHENTICATION_WHITELIST": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "SCHEMA_PATH_PREFIX": r"/api/",
    # api_path() routes answer with and without a trailing slash; document the slashless one.
    "PREPROCESSING_HOOKS": ["hcm.openapi.strip_optional_slash"],
    # Fields named "status" or "priority" mean different things in jobs and notifications.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.JobStatus",
        "JobPriorityEnum": ["low", "medium", "high"],
        "NotificationPriorityEnum": "notifications.models.NotificationPriority",
    },
}

# Per-user rate limits (django-ratelimit syntax); the seeds' values.
RATE_LIMITS = {
    "notification_settings_update": env_str("RATE_LIMIT_SETTINGS_UPDATE", "20/m"),
    "notification_settings_test_email": env_str("RATE_LIMIT_TEST_EMAIL", "5/m"),
    "background_job_create": env_str("RATE_LIMIT_JOB_CREATE", "20/m"),
    "background_job_cancel": env_str("RATE_LIMIT_JOB_CANCEL", "10/m"),
    # Not in the seeds: each call can fan out to every user of an organization.
    "notification_create": env_str("RATE_LIMIT_NOTIFICATION_CREATE", "60/m"),
    "notification_event": env_str("RATE_LIMIT_NOTIFICATION_EVENT", "120/m"),
    "job_schedule_write": env_str("RATE_LIMIT_SCHEDULE_WRITE", "30/m"),
    "job_type_pause": env_str("RATE_LIMIT_JOB_TYPE_PAUSE", "20/m"),
    # Every other write (mark read, delete a notification, set a phone number, …).
    "api_write": env_str("RATE_LIMIT_API_WRITE", "300/m"),
    # Login attempts (token endpoint, admin and browsable-API login; hcm.login_limits),
    # per client address and per username; every attempt counts, successful or not.
    "login_ip": env_str("RATE_LIMIT_LOGIN_IP", "60/5m"),
    "login_username": env_str("RATE_LIMIT_LOGIN_USERNAME", "10/5m"),
}
# Where the client address of a login attempt comes from: REMOTE_ADDR unless this names a
# header set by your own reverse proxy (e.g. X-Real-IP). Never trust a header a client can
# send: without a proxy that overwrites it, anyone can pick their address.
LOGIN_CLIENT_IP_HEADER = env_str("LOGIN_CLIENT_IP_HEADER")

# --- Email ----------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10.0)
ANYMAIL = {
    "SENDGRID_API_KEY": env_str("SENDGRID_API_KEY"),
}
# AWS (SES email, SNS SMS) through boto3: credentials from boto3's usual chain
# (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, an instance role). The endpoint
# overrides point at a stand-in (tests run moto's server); empty means AWS itself.
AWS_REGION = env_str("AWS_REGION", "us-east-1")
AWS_ENDPOINT_URL_SES = env_str("AWS_ENDPOINT_URL_SES")
AWS_ENDPOINT_URL_SNS = env_str("AWS_ENDPOINT_URL_SNS")

# --- i18n / time ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# Times to the second, Y-m-d order, in the admin and templates (hcm/formats/en/formats.py).
FORMAT_MODULE_PATH = ["hcm.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))

# --- Logging --------------------------------------------------------------------------
# The console (stderr) always; also LOG_DIR/hcm.log when LOG_DIR is set (unset or "-": the
# console only, for containers). The file is reopened when the log_rotate job renames it (WatchedFileHandler)
# and its directory is created on the first write, not here: importing settings creates no
# directories, so a read-only filesystem with stdout logging works.
_log_dir = env_str("LOG_DIR", "-").strip()
LOG_DIR = Path(_log_dir) if _log_dir not in ("", "-") else None
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# "text": `ts level logger message key=value …`; "json": one JSON object per line.
LOG_FORMAT = env_str("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, got {LOG_FORMAT!r}")
# One handler for both sinks (stderr, and LOG_DIR/hcm.log): each line is filtered,
# formatted and queued once (issue 13: logging at INFO costs ≤ 10 % of the worker's throughput).
_log_handlers = ["console"]
_log_filters = ["redact", "context"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "hcm.logging.RedactSecretsFilter"},
        "context": {"()": "hcm.logging.ContextFilter"},
        "skip_error_responses": {"()": "hcm.logging.SkipErrorResponses"},
    },
    # Only the format in use is configured (and imported).
    "formatters": {
        LOG_FORMAT: {
            "()": "hcm.logging_json.JsonFormatter" if LOG_FORMAT == "json" else "hcm.logging.KeyValueFormatter"
        }
    },
    "handlers": {
        "console": {
            # stderr: commands keep stdout for their own output (an id a script reads).
            "class": "hcm.logging.BufferedStreamHandler",
            "formatter": LOG_FORMAT,
            "filters": _log_filters,
            # and the same lines, in the same batches, to LOG_DIR/hcm.log (created at the first batch)
            "log_file": str(LOG_DIR / "hcm.log") if LOG_DIR else None,
        },
    },
    "root": {"handlers": _log_handlers, "level": LOG_LEVEL},
    "loggers": {
        # Django's default config gives "django" a console handler of its own (with DEBUG)
        # besides ours at the root: every 4xx was printed twice. One set of handlers.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        # runserver's access log (daphne's under ASGI); django.request already logged responses >= 400.
        "django.server": {
            "handlers": _log_handlers,
            "level": "INFO",
            "propagate": False,
            "filters": ["skip_error_responses"],
        },
        "django.channels.server": {
            "handlers": _log_handlers,
            "level": "INFO",
            "propagate": False,
            "filters": ["skip_error_responses"],
        },
        "django.db.backends": {"level": "INFO"},
    },
}

# --- Metrics (GET /metrics, Prometheus text format) --------------------------------------
# Access: `Authorization: Bearer <METRICS_TOKEN>`, or a client address in METRICS_ALLOWED_IPS
# (addresses or networks: 10.0.0.0/8). Neither set: /metrics answers 404.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", [])
# Attempt counters count attempts that finished at least this long ago, so an attempt
# whose row is written a little after it finished (batched by the worker) is not missed.
METRICS_ATTEMPTS_LAG_SECONDS = env_float("METRICS_ATTEMPTS_LAG_SECONDS", 30.0)
# What /metrics reports: one collector per app (imported at the first scrape).
METRICS_COLLECTORS = ["jobs.metrics.JobsCollector", "notifications.metrics.NotificationsCollector"]

# --- Security (behind a TLS-terminating proxy in production) ---------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
X_FRAME_OPTIONS = "DENY"

# --- Background jobs (JOBS_*) ---------------------------------------------------------
# Extra modules holding @job_handler functions, imported at startup (besides jobs/handlers/
# and every app's job_handlers.py).
JOBS_HANDLER_MODULES = env_list("JOBS_HANDLER_MODULES", [])
JOBS_RETRY_BASE_SECONDS = env_float("JOBS_RETRY_BASE_SECONDS", 120.0)
JOBS_LEASE_SECONDS = env_float("JOBS_LEASE_SECONDS", 60.0)
JOBS_POLL_INTERVAL = env_float("JOBS_POLL_INTERVAL", 0.02 if _db["ENGINE"].endswith("sqlite3") else 1.0)
JOBS_GRACE_PERIOD = env_float("JOBS_GRACE_PERIOD", 25.0)
JOBS_RETENTION_COMPLETED_DAYS = env_int("JOBS_RETENTION_COMPLETED_DAYS", 30)
JOBS_RETENTION_FAILED_DAYS = env_int("JOBS_RETENTION_FAILED_DAYS", 7)
JOBS_RETENTION_ATTEMPT_DAYS = env_int("JOBS_RETENTION_ATTEMPT_DAYS", 90)
JOBS_TEMP_DIR = Path(env_str("JOBS_TEMP_DIR", str(VAR_DIR / "tmp")))
JOBS_TEMP_MAX_AGE_HOURS = env_int("JOBS_TEMP_MAX_AGE_HOURS", 24)
# PostgreSQL: how often (seconds) a worker folds /stats' figures ledger; 0 turns it off.
JOBS_FIGURES_COMPACT_SECONDS = env_float("JOBS_FIGURES_COMPACT_SECONDS", 60.0)

# --- Django's Tasks API (django-tasks backport) ------------------------------------------
# `@task` functions enqueued with `.enqueue()` are stored as background jobs of type
# `django_task` and run by `manage.py runworker`; results via `get_result(id)`.
# jobs/tasks_backend.py documents how priority, run_after and queue_name map onto jobs.
TASKS = {
    "default": {
        "BACKEND": "jobs.tasks_backend.BackgroundJobBackend",
        # Queue names tasks may use (`@task(queue_name=...)`); `runworker --queues` picks among them.
        "QUEUES": env_list("JOBS_TASKS_QUEUES", ["default"]),
        "OPTIONS": {"MAX_RETRIES": env_int("JOBS_TASKS_MAX_RETRIES", 3)},
    },
}

# --- Notifications (NOTIFICATIONS_*) --------------------------------------------------
NOTIFICATIONS_SLACK_ALLOWED_HOSTS = env_list("NOTIFICATIONS_SLACK_ALLOWED_HOSTS", [])
# Extra `host` / `host:port` that Teams webhooks and outbound webhooks may use over plain
# http or at a private address (operators' proxies, tests' local servers).
NOTIFICATIONS_CHANNEL_MODULES = env_list("NOTIFICATIONS_CHANNEL_MODULES", [])
NOTIFICATIONS_TEAMS_ALLOWED_HOSTS = env_list("NOTIFICATIONS_TEAMS_ALLOWED_HOSTS", [])
NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS = env_list("NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS", [])
NOTIFICATIONS_READ_RETENTION_DAYS = env_int("NOTIFICATIONS_READ_RETENTION_DAYS", 30)
NOTIFICATIONS_HTTP_TIMEOUT = env_float("NOTIFICATIONS_HTTP_TIMEOUT", 5.0)
# A fan-out queues one notification_send_batch job per this many deliveries (one claim,
# one query to load them, one connection per channel, one UPDATE for the sent ones); 1:
# one notification_send job per delivery. At most 1,000.
NOTIFICATIONS_SEND_BATCH_SIZE = env_int("NOTIFICATIONS_SEND_BATCH_SIZE", 100)
# The HR platform's address, e.g. https://hr.example.com: relative action links in email,
# Slack and digests are made absolute with it. Unset: they stay relative (shown as text).
NOTIFICATIONS_BASE_URL = env_str("NOTIFICATIONS_BASE_URL")
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_BASE_URL = env_str("TWILIO_BASE_URL", "https://api.twilio.com")
# This service's own public address (https://hcm.example.com): the one-click unsubscribe
# links in emails point here. Unset without DEBUG: emails go without them (check W001 says so).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "")
# The notification stream (GET /api/notifications/stream): a heartbeat comment this often,
# how often SQLite is polled (PostgreSQL wakes on LISTEN/NOTIFY and polls only as a fallback),
# how long a stream ticket lives, and the longest a stream stays open before the client
# reconnects (a JWT-authenticated stream also ends when its token expires).
NOTIFICATIONS_STREAM_HEARTBEAT_SECONDS = env_float("NOTIFICATIONS_STREAM_HEARTBEAT_SECONDS", 15.0)
NOTIFICATIONS_STREAM_POLL_SECONDS = env_float(
    "NOTIFICATIONS_STREAM_POLL_SECONDS", 0.2 if _db["ENGINE"].endswith("sqlite3") else 5.0
)
NOTIFICATIONS_STREAM_TICKET_SECONDS = env_int("NOTIFICATIONS_STREAM_TICKET_SECONDS", 60)
NOTIFICATIONS_STREAM_MAX_SECONDS = env_float("NOTIFICATIONS_STREAM_MAX_SECONDS", 3600.0)
# Key for credentials stored in the database (Fernet); derived from SECRET_KEY if unset.
FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY")

# Static files: `collectstatic` fills STATIC_ROOT for production; with DEBUG on, WhiteNoise
# serves straight from the apps so `run.sh` needs no collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
