import pytest
from django.core.cache import caches
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from hcm.models import Role
from tests.factories import make_org, make_platform_operator, make_user


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    # Real hashing costs ~0.3 s per user on these 2 cores; the hasher is not under test.
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield


@pytest.fixture(autouse=True)
def _clear_cache(db):
    # Rate-limit counters live in a cache ("ratelimit"); each test starts with none spent.
    from django.conf import settings

    for alias in settings.CACHES:
        caches[alias].clear()
    yield


@pytest.fixture
def org(db):
    return make_org("acme")


@pytest.fixture
def other_org(db):
    return make_org("globex")


@pytest.fixture
def admin_user(org):
    return make_user(org, role=Role.SYSTEM_ADMIN, username="alice")


@pytest.fixture
def member_user(org):
    return make_user(org, role=Role.MEMBER, username="bob")


@pytest.fixture
def other_admin(other_org):
    return make_user(other_org, role=Role.SYSTEM_ADMIN, username="mallory")


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def admin_client(admin_user) -> APIClient:
    return client_for(admin_user)


@pytest.fixture
def member_client(member_user) -> APIClient:
    return client_for(member_user)


@pytest.fixture
def other_admin_client(other_admin) -> APIClient:
    return client_for(other_admin)


@pytest.fixture
def operator_user(org):
    """A system_admin of acme who is also a platform operator (hcm.operate_platform)."""
    return make_platform_operator(make_user(org, role=Role.SYSTEM_ADMIN, username="olga"))


@pytest.fixture
def operator_client(operator_user) -> APIClient:
    return client_for(operator_user)


@pytest.fixture
def job_types():
    """Register the test job types (tests/job_types.py) in this process for one test; worker
    processes load them with JOBS_HANDLER_MODULES=tests.job_types."""
    import importlib

    import tests.job_types as module
    from jobs import registry

    importlib.reload(module)
    yield module
    for name in module.NAMES:
        registry._REGISTRY.pop(name, None)
