"""What a person sees of a notification: the API's fields and the stream's, one list."""

NOTIFICATION_FIELDS = (
    "id",
    "type",
    "title",
    "message",
    "priority",
    "channels",
    "status",
    "delivery_status",
    "read_at",
    "sent_at",
    "metadata",
    "action_url",
    "created_at",
)
