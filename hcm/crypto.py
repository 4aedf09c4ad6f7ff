"""Encryption at rest for credentials stored in the database (Fernet, AES-128 + HMAC)."""

import base64
import hashlib
import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

from hcm.startup import require_secret_key

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

logger = logging.getLogger(__name__)


def _fernet() -> "Fernet":
    # Imported at the first encrypted value, not with the models: cryptography costs a
    # process ~7 MiB, and most workers never read a credential.
    from cryptography.fernet import Fernet

    key: str | bytes = settings.FIELD_ENCRYPTION_KEY
    if not key:
        require_secret_key()  # never encrypt with the random stand-in key
        # Derived so a deployment only has to keep SECRET_KEY; set FIELD_ENCRYPTION_KEY to
        # rotate SECRET_KEY without losing stored credentials.
        key = base64.urlsafe_b64encode(hashlib.sha256(("hcm-fields:" + settings.SECRET_KEY).encode()).digest())
    return Fernet(key)


class EncryptedTextField(models.TextField):
    """Stores `fernet:<token>`; reads back the plaintext. A value that no longer decrypts
    (the key changed) reads as None and is logged, instead of breaking every page."""

    PREFIX = "fernet:"

    def from_db_value(self, value: str | None, expression, connection) -> str | None:
        if value is None or not value.startswith(self.PREFIX):
            return value
        from cryptography.fernet import InvalidToken

        try:
            return _fernet().decrypt(value[len(self.PREFIX) :].encode()).decode()
        except InvalidToken:
            logger.error("cannot decrypt %s: was the encryption key changed?", self.name)
            return None

    def get_prep_value(self, value: str | None) -> str | None:
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value or None
        return self.PREFIX + _fernet().encrypt(value.encode()).decode()
