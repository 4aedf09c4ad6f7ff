"""The notification stream's position (`notifications.seq`) and, on PostgreSQL, its wake-ups.

`seq` is assigned by the database on every insert, whoever inserts (the fan-out, the admin,
a script), in commit order and never reused, so a stream that has sent everything up to N
can never later find a row below N: resuming from Last-Event-ID loses nothing.

- PostgreSQL: a statement trigger takes a transaction-scoped advisory lock before the
  insert, so notification-inserting transactions run one at a time from their first insert
  to their commit, and a row trigger takes `nextval` under that lock: values become visible
  in the order they were given. Statement triggers with transition tables then NOTIFY
  `hcm_notifications` with the affected user ids ('*' when the list is too long for a
  NOTIFY payload) on insert, on a change of `read_at` and on delete: the stream's listener
  wakes only those users' streams.
- SQLite: writers are serialized by the database lock, so a counter row bumped by an
  AFTER INSERT trigger is commit-ordered by itself. Streams poll (see notifications.stream).
"""

from django.db import migrations

STREAM_LOCK_KEY = 7_041_976_201  # any constant; names the advisory lock

PG_CREATE = f"""
CREATE SEQUENCE IF NOT EXISTS notifications_stream_seq;
SELECT setval('notifications_stream_seq', GREATEST((SELECT COALESCE(MAX(seq), 0) FROM notifications), 1));

CREATE OR REPLACE FUNCTION notifications_stream_lock() RETURNS trigger AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({STREAM_LOCK_KEY});
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS notifications_stream_lock ON notifications;
CREATE TRIGGER notifications_stream_lock BEFORE INSERT ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_stream_lock();

CREATE OR REPLACE FUNCTION notifications_stream_seq() RETURNS trigger AS $$
BEGIN
    NEW.seq := nextval('notifications_stream_seq');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS notifications_stream_seq ON notifications;
CREATE TRIGGER notifications_stream_seq BEFORE INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION notifications_stream_seq();

CREATE OR REPLACE FUNCTION notifications_stream_notify() RETURNS trigger AS $$
DECLARE
    users text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT string_agg(DISTINCT user_id::text, ',') INTO users FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT string_agg(DISTINCT user_id::text, ',') INTO users FROM old_rows;
    ELSE
        SELECT string_agg(DISTINCT n.user_id::text, ',') INTO users
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.read_at IS DISTINCT FROM o.read_at;
    END IF;
    IF users IS NOT NULL THEN
        -- A NOTIFY payload must stay under 8000 bytes.
        IF length(users) > 7000 THEN
            users := '*';
        END IF;
        PERFORM pg_notify('hcm_notifications', users);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS notifications_stream_notify_insert ON notifications;
CREATE TRIGGER notifications_stream_notify_insert AFTER INSERT ON notifications
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION notifications_stream_notify();
DROP TRIGGER IF EXISTS notifications_stream_notify_update ON notifications;
CREATE TRIGGER notifications_stream_notify_update AFTER UPDATE ON notifications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_stream_notify();
DROP TRIGGER IF EXISTS notifications_stream_notify_delete ON notifications;
CREATE TRIGGER notifications_stream_notify_delete AFTER DELETE ON notifications
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION notifications_stream_notify();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS notifications_stream_notify_delete ON notifications;
DROP TRIGGER IF EXISTS notifications_stream_notify_update ON notifications;
DROP TRIGGER IF EXISTS notifications_stream_notify_insert ON notifications;
DROP FUNCTION IF EXISTS notifications_stream_notify();
DROP TRIGGER IF EXISTS notifications_stream_seq ON notifications;
DROP FUNCTION IF EXISTS notifications_stream_seq();
DROP TRIGGER IF EXISTS notifications_stream_lock ON notifications;
DROP FUNCTION IF EXISTS notifications_stream_lock();
DROP SEQUENCE IF EXISTS notifications_stream_seq;
"""

SQLITE_CREATE = [
    """CREATE TABLE IF NOT EXISTS notification_stream_counter (
        id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)""",
    "INSERT OR IGNORE INTO notification_stream_counter (id, value) "
    "SELECT 1, COALESCE(MAX(seq), 0) FROM notifications",
    """CREATE TRIGGER IF NOT EXISTS notifications_stream_seq AFTER INSERT ON notifications
    FOR EACH ROW WHEN NEW.seq IS NULL
    BEGIN
        UPDATE notification_stream_counter SET value = value + 1 WHERE id = 1;
        UPDATE notifications SET seq = (SELECT value FROM notification_stream_counter WHERE id = 1)
        WHERE rowid = NEW.rowid;
    END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS notifications_stream_seq",
    "DROP TABLE IF EXISTS notification_stream_counter",
]

# Rows that exist before this migration get positions in creation order.
BACKFILL = """
UPDATE notifications SET seq = ordered.position
FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id) AS position FROM notifications) AS ordered
WHERE notifications.id = ordered.id
"""


def create(apps, schema_editor) -> None:
    schema_editor.execute(BACKFILL)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_CREATE)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement)
    else:
        raise NotImplementedError("the notification stream supports PostgreSQL and SQLite")


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_DROP)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0004_personal_preferences_and_stream")]
    operations = [migrations.RunPython(create, drop)]
