from notifications.models.contact import NotificationContact
from notifications.models.delivery import Delivery, DeliveryStatus, DigestRun
from notifications.models.failure_alert import JobFailureAlert
from notifications.models.mailbox import StoredEmail
from notifications.models.notification import Notification, NotificationPriority, NotificationStatus
from notifications.models.preferences import NotificationPreference, PersonalQuietHours, StreamTicket
from notifications.models.settings import NotificationSettings

__all__ = [
    "Delivery",
    "DeliveryStatus",
    "DigestRun",
    "JobFailureAlert",
    "Notification",
    "NotificationContact",
    "NotificationPreference",
    "NotificationPriority",
    "NotificationSettings",
    "NotificationStatus",
    "PersonalQuietHours",
    "StreamTicket",
    "StoredEmail",
]
