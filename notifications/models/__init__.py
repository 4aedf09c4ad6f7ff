from notifications.models.contact import NotificationContact
from notifications.models.delivery import Delivery, DeliveryChannel, DeliveryStatus, DigestRun
from notifications.models.mailbox import StoredEmail
from notifications.models.notification import Channel, Notification, NotificationPriority, NotificationStatus
from notifications.models.preferences import NotificationPreference, PersonalQuietHours, StreamTicket
from notifications.models.settings import NotificationSettings

__all__ = [
    "Channel",
    "Delivery",
    "DeliveryChannel",
    "DeliveryStatus",
    "DigestRun",
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
