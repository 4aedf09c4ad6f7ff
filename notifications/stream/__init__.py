"""The live notification feed: GET /api/notifications/stream (Server-Sent Events).

- `hub`: one per process; wakes on PostgreSQL LISTEN/NOTIFY or polls SQLite, reads what
  changed for every open stream at once and hands each stream its events.
- `tickets`: short-lived single-use credentials for browsers' EventSource.
- `view`: the async Django view that authenticates and streams.
"""
