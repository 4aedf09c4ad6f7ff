"""/stats' figures: finished jobs per (organization, job type, status) and attempt
durations per (organization, job type, hour, bucket), kept by triggers (see
jobs/stats_figures.py), and filled from the rows already there.

Only transitions into or out of a finished status (completed, failed, cancelled) touch the
job counts; queued and processing jobs are counted live. So an enqueue (a job is born
queued) and a claim fire nothing: on SQLite there is no INSERT trigger at all (any row
trigger halves a bulk insert's rate there), on PostgreSQL a row trigger whose WHEN is
false costs no function call.

SQLite: row triggers upsert one row per key (one writer at a time). PostgreSQL: triggers
append delta rows (a ledger; UPDATE and DELETE per statement, over transition tables), so
concurrent writers never wait on a shared counter row; compact_figures folds them.
"""

from django.db import migrations, models

# Frozen copy of jobs.stats_figures.BUCKET_EDGES_MS: a duration's bucket is the number of
# edges at or below it.
EDGES = [2 ** (k / 4) for k in range(-16, 100)]
FINISHED = "('completed', 'failed', 'cancelled')"
ORG = "COALESCE({row}.organization_id, '')"
SQLITE_ATTEMPT_ORG = "COALESCE((SELECT organization_id FROM background_jobs WHERE id = {row}.job_id), '')"


def sqlite_bucket(value: str) -> str:
    return "(" + " + ".join(f"({value} >= {edge!r})" for edge in EDGES) + ")"


def sqlite_hour(value: str) -> str:
    return f"(substr({value}, 1, 13) || ':00:00')"


SQLITE_DOWN = f"""UPDATE background_job_counts SET n = n - 1
        WHERE organization_id = {ORG.format(row="OLD")} AND job_type = OLD.job_type AND status = OLD.status
            AND OLD.status IN {FINISHED};"""
SQLITE_UP = f"""INSERT INTO background_job_counts (organization_id, job_type, status, n)
        SELECT {ORG.format(row="NEW")}, NEW.job_type, NEW.status, 1 WHERE NEW.status IN {FINISHED}
        ON CONFLICT (organization_id, job_type, status) DO UPDATE SET n = n + 1;"""
SQLITE_FINISHED_COUNTS = f"""INSERT INTO background_job_counts (organization_id, job_type, status, n)
    SELECT COALESCE(organization_id, ''), job_type, status, COUNT(*) FROM background_jobs
    WHERE status IN {FINISHED} GROUP BY 1, 2, 3"""
SQLITE_CREATE = [
    "CREATE UNIQUE INDEX bg_job_counts_key ON background_job_counts (organization_id, job_type, status)",
    "CREATE UNIQUE INDEX bg_job_durations_key ON background_job_durations (organization_id, hour, job_type, bucket)",
    # UPDATE only (no insert) on the way down: a finished job was counted, so its row
    # exists; and a flush that empties the figures before the jobs leaves nothing behind.
    f"""CREATE TRIGGER bg_job_counts_update AFTER UPDATE OF status, job_type, organization_id ON background_jobs
    WHEN (OLD.status IN {FINISHED} OR NEW.status IN {FINISHED})
        AND (OLD.status IS NOT NEW.status OR OLD.job_type IS NOT NEW.job_type
            OR OLD.organization_id IS NOT NEW.organization_id)
    BEGIN
        {SQLITE_DOWN}
        {SQLITE_UP}
    END""",
    f"""CREATE TRIGGER bg_job_counts_delete AFTER DELETE ON background_jobs WHEN OLD.status IN {FINISHED} BEGIN
        {SQLITE_DOWN}
    END""",
    f"""CREATE TRIGGER bg_job_durations_insert AFTER INSERT ON background_job_attempts BEGIN
        INSERT INTO background_job_durations (organization_id, job_type, hour, bucket, runs, succeeded, total_ms)
        VALUES ({SQLITE_ATTEMPT_ORG.format(row="NEW")}, NEW.job_type, {sqlite_hour("NEW.finished_at")},
            {sqlite_bucket("NEW.duration_ms")}, 1, NEW.outcome = 'completed', NEW.duration_ms)
        ON CONFLICT (organization_id, hour, job_type, bucket) DO UPDATE SET runs = runs + 1,
            succeeded = succeeded + excluded.succeeded, total_ms = total_ms + excluded.total_ms;
    END""",
    f"""CREATE TRIGGER bg_job_durations_delete AFTER DELETE ON background_job_attempts BEGIN
        UPDATE background_job_durations SET runs = runs - 1, succeeded = succeeded - (OLD.outcome = 'completed'),
            total_ms = total_ms - OLD.duration_ms
        WHERE organization_id = {SQLITE_ATTEMPT_ORG.format(row="OLD")} AND hour = {sqlite_hour("OLD.finished_at")}
            AND job_type = OLD.job_type AND bucket = {sqlite_bucket("OLD.duration_ms")};
    END""",
    SQLITE_FINISHED_COUNTS,
    f"""INSERT INTO background_job_durations (organization_id, job_type, hour, bucket, runs, succeeded, total_ms)
    SELECT COALESCE(j.organization_id, ''), a.job_type, {sqlite_hour("a.finished_at")}, {sqlite_bucket("a.duration_ms")},
        COUNT(*), SUM(a.outcome = 'completed'), SUM(a.duration_ms)
    FROM background_job_attempts a LEFT JOIN background_jobs j ON j.id = a.job_id
    WHERE a.finished_at >= datetime('now', '-8 days') GROUP BY 1, 2, 3, 4""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS bg_job_counts_update",
    "DROP TRIGGER IF EXISTS bg_job_counts_delete",
    "DROP TRIGGER IF EXISTS bg_job_durations_insert",
    "DROP TRIGGER IF EXISTS bg_job_durations_delete",
]

PG_EDGES = "'{" + ",".join(repr(edge) for edge in EDGES) + "}'::float8[]"


def pg_function(name: str, body: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {body};
        RETURN NULL;
    END $$"""


def pg_durations_delta(rows: str, sign: str) -> str:
    return f"""INSERT INTO background_job_durations (organization_id, job_type, hour, bucket, runs, succeeded, total_ms)
        SELECT COALESCE(j.organization_id, ''), a.job_type, date_trunc('hour', a.finished_at, 'UTC'),
            width_bucket(a.duration_ms, {PG_EDGES}), {sign}COUNT(*),
            {sign}COUNT(*) FILTER (WHERE a.outcome = 'completed'), {sign}SUM(a.duration_ms)
        FROM {rows} a LEFT JOIN background_jobs j ON j.id = a.job_id GROUP BY 1, 2, 3, 4"""


PG_KEY = "COALESCE(organization_id, ''), job_type, status"
PG_COUNTS = "INSERT INTO background_job_counts (organization_id, job_type, status, n)"
PG_CREATE = [
    "CREATE INDEX bg_job_counts_key ON background_job_counts (organization_id, job_type, status) INCLUDE (n)",
    "CREATE INDEX bg_job_durations_key ON background_job_durations (organization_id, hour)",
    # A job born finished (never by the product's enqueue: by hand-written SQL): one row.
    pg_function("bg_job_counts_insert", f"{PG_COUNTS} VALUES ({ORG.format(row='NEW')}, NEW.job_type, NEW.status, 1)"),
    pg_function(
        "bg_job_counts_delete",
        f"{PG_COUNTS} SELECT {PG_KEY}, -COUNT(*) FROM bg_old WHERE status IN {FINISHED} GROUP BY 1, 2, 3",
    ),
    # Every UPDATE statement: a row whose key did not change adds -1 and +1 to one group,
    # which sums to 0 and is left out; unfinished statuses are left out first.
    pg_function(
        "bg_job_counts_update",
        f"{PG_COUNTS} SELECT o, t, s, SUM(d) FROM (SELECT {PG_KEY}, -1 FROM bg_old WHERE status IN {FINISHED}"
        f" UNION ALL SELECT {PG_KEY}, 1 FROM bg_new WHERE status IN {FINISHED})"
        " AS c(o, t, s, d) GROUP BY 1, 2, 3 HAVING SUM(d) <> 0",
    ),
    pg_function("bg_job_durations_insert", pg_durations_delta("bg_new", "")),
    pg_function("bg_job_durations_delete", pg_durations_delta("bg_old", "-")),
    pg_function(
        "bg_job_figures_truncate",
        "IF TG_TABLE_NAME = 'background_jobs' THEN DELETE FROM background_job_counts; END IF;"
        " DELETE FROM background_job_durations",
    ),
    f"CREATE TRIGGER bg_job_counts_insert AFTER INSERT ON background_jobs FOR EACH ROW"
    f" WHEN (NEW.status IN {FINISHED}) EXECUTE FUNCTION bg_job_counts_insert()",
    "CREATE TRIGGER bg_job_counts_update AFTER UPDATE ON background_jobs"
    " REFERENCING OLD TABLE AS bg_old NEW TABLE AS bg_new FOR EACH STATEMENT EXECUTE FUNCTION bg_job_counts_update()",
    "CREATE TRIGGER bg_job_counts_delete AFTER DELETE ON background_jobs REFERENCING OLD TABLE AS bg_old"
    " FOR EACH STATEMENT EXECUTE FUNCTION bg_job_counts_delete()",
    "CREATE TRIGGER bg_job_counts_truncate AFTER TRUNCATE ON background_jobs"
    " FOR EACH STATEMENT EXECUTE FUNCTION bg_job_figures_truncate()",
    "CREATE TRIGGER bg_job_durations_insert AFTER INSERT ON background_job_attempts"
    " REFERENCING NEW TABLE AS bg_new FOR EACH STATEMENT EXECUTE FUNCTION bg_job_durations_insert()",
    "CREATE TRIGGER bg_job_durations_delete AFTER DELETE ON background_job_attempts"
    " REFERENCING OLD TABLE AS bg_old FOR EACH STATEMENT EXECUTE FUNCTION bg_job_durations_delete()",
    "CREATE TRIGGER bg_job_durations_truncate AFTER TRUNCATE ON background_job_attempts"
    " FOR EACH STATEMENT EXECUTE FUNCTION bg_job_figures_truncate()",
    f"{PG_COUNTS} SELECT {PG_KEY}, COUNT(*) FROM background_jobs WHERE status IN {FINISHED} GROUP BY 1, 2, 3",
    f"""INSERT INTO background_job_durations (organization_id, job_type, hour, bucket, runs, succeeded, total_ms)
    SELECT COALESCE(j.organization_id, ''), a.job_type, date_trunc('hour', a.finished_at, 'UTC'),
        width_bucket(a.duration_ms, {PG_EDGES}), COUNT(*), COUNT(*) FILTER (WHERE a.outcome = 'completed'),
        SUM(a.duration_ms)
    FROM background_job_attempts a LEFT JOIN background_jobs j ON j.id = a.job_id
    WHERE a.finished_at >= now() - interval '8 days' GROUP BY 1, 2, 3, 4""",
]
PG_DROP = [
    "DROP TRIGGER IF EXISTS bg_job_counts_insert ON background_jobs",
    "DROP TRIGGER IF EXISTS bg_job_counts_update ON background_jobs",
    "DROP TRIGGER IF EXISTS bg_job_counts_delete ON background_jobs",
    "DROP TRIGGER IF EXISTS bg_job_counts_truncate ON background_jobs",
    "DROP TRIGGER IF EXISTS bg_job_durations_insert ON background_job_attempts",
    "DROP TRIGGER IF EXISTS bg_job_durations_delete ON background_job_attempts",
    "DROP TRIGGER IF EXISTS bg_job_durations_truncate ON background_job_attempts",
    "DROP FUNCTION IF EXISTS bg_job_counts_insert(), bg_job_counts_update(), bg_job_counts_delete(),"
    " bg_job_durations_insert(), bg_job_durations_delete(), bg_job_figures_truncate()",
]


def create(apps, schema_editor) -> None:
    for statement in PG_CREATE if schema_editor.connection.vendor == "postgresql" else SQLITE_CREATE:
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor) -> None:
    for statement in PG_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('hcm', '0005_metric_counters'),
        ('jobs', '0012_enqueue_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='JobDurationFigure',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('organization_id', models.CharField(blank=True, default='', max_length=40)),
                ('job_type', models.CharField(max_length=100)),
                ('hour', models.DateTimeField()),
                ('bucket', models.SmallIntegerField(help_text='Index into jobs.stats_figures.BUCKET_EDGES_MS.')),
                ('runs', models.BigIntegerField()),
                ('succeeded', models.BigIntegerField()),
                ('total_ms', models.FloatField()),
            ],
            options={
                'db_table': 'background_job_durations',
            },
        ),
        migrations.CreateModel(
            name='JobStatusCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('organization_id', models.CharField(blank=True, default='', max_length=40)),
                ('job_type', models.CharField(max_length=100)),
                ('status', models.CharField(max_length=20)),
                ('n', models.BigIntegerField()),
            ],
            options={
                'db_table': 'background_job_counts',
            },
        ),
        migrations.RunPython(create, drop),
        # available_at joins the (organization, status, priority, ...) list index, so /stats'
        # queue figures and live pending count read the index alone.
        migrations.RemoveIndex(
            model_name='backgroundjob',
            name='bg_jobs_org_status_prio_idx',
        ),
        migrations.AddIndex(
            model_name='backgroundjob',
            index=models.Index(fields=['organization', 'status', 'priority', '-created_at', '-id', 'job_type', 'available_at'], name='bg_jobs_org_status_prio_idx'),
        ),
    ]
