import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from hcm.models import Role, User
from hcm.services import org_user_upsert


class Command(BaseCommand):
    help = (
        "Create the demo organization with a system_admin (also a superuser for /admin/) and "
        "print its login. The generated password is kept in var/demo-admin-password (mode 0600) "
        "so later runs can print it again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="", help="Default: a random password, generated once.")

    def handle(self, *args, **opts) -> None:
        username = opts["username"]
        saved = settings.VAR_DIR / "demo-admin-password"
        password = opts["password"]
        if not password and saved.exists():
            password = saved.read_text().strip()
            user = User.objects.filter(username=username).first()
            if user and not user.check_password(password):
                password = ""  # changed since; don't overwrite the operator's password
                self.stdout.write(f"Login: username={username} (password was changed; not shown)")
                return
        password = password or secrets.token_urlsafe(12)
        user, _ = org_user_upsert(
            org_slug="demo",
            org_name="Demo Organization",
            username=username,
            password=password,
            email="admin@demo.local",
            role=Role.SYSTEM_ADMIN,
        )
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(password + "\n")
        saved.chmod(0o600)
        organization = user.organization
        assert organization is not None  # org_user_upsert always sets it
        self.stdout.write(f"Demo organization: {organization.name} ({organization.pk})")
        self.stdout.write(self.style.SUCCESS(f"Login: username={username} password={password}"))
