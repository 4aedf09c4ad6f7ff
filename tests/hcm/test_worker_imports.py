"""The worker's start-up imports (hcm/worker_imports.py): OpenSSL is loaded at its first
use, and everything that uses it then works as in any other process; of the admin, the
worker loads its models only, and the rest at its first use."""

import hashlib
import hmac
import json
import subprocess
import sys

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType

from jobs.models import BackgroundJob, JobStatus
from jobs.services import job_enqueue
from tests.factories import make_user
from tests.servers import self_signed_certificate
from tests.workers import ROOT, run_burst, worker_env

# Run in a fresh interpreter: defer_openssl() first, as `manage.py runworker` does, then what
# the worker imports at start (asyncio through Django, http.client, hashlib, hmac, secrets,
# smtplib); then each use of OpenSSL, in the order a job might make them.
FIRST_USE_SCRIPT = r"""
import json, sys
from hcm.worker_imports import defer_openssl

defer_openssl()
import asyncio, django.utils.crypto, hashlib, hmac, http.client, secrets, smtplib

def openssl_loaded():
    return [name for name in ("_ssl", "_hashlib") if sys.modules.get(name) is not None]

out = {"at_start": openssl_loaded()}
out["sha256"] = hashlib.sha256(b"abc").hexdigest()
out["salted_hmac"] = django.utils.crypto.salted_hmac("salt", "value", secret="s", algorithm="sha256").hexdigest()
out["hmac"] = hmac.new(b"key", b"message", hashlib.sha256).hexdigest()
out["compare_digest"] = secrets.compare_digest(b"a", b"a") and not hmac.compare_digest(b"a", b"b")
out["after_builtin_hashes"] = openssl_loaded()
out["hmac_named"] = hmac.new(b"key", b"message", "sha256").hexdigest()  # hashlib.new: the real hashlib
out["pbkdf2"] = hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 1000).hex()
out["sha512_256"] = hashlib.new("sha512_256", b"abc").hexdigest()
out["after_pbkdf2"] = openssl_loaded()
out["https_connection"] = http.client.HTTPSConnection.__name__
out["smtp_starttls"] = smtplib._have_ssl
import importlib.util
out["found_specs"] = [importlib.util.find_spec(name).name for name in ("ssl", "hashlib")]  # a library probing for ssl
out["after_find_spec"] = openssl_loaded()

async def tls_round_trip(cert, key):
    import ssl
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)

    async def echo(reader, writer):
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    client_context = ssl.create_default_context(cafile=cert)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context, server_hostname="127.0.0.1")
    writer.write(b"over tls\n")
    answer = await reader.readline()
    writer.close()
    server.close()
    return answer.decode().strip()

out["asyncio_tls"] = asyncio.run(tls_round_trip(sys.argv[1], sys.argv[2]))
out["after_tls"] = openssl_loaded()
print(json.dumps(out))
"""


def test_defer_openssl__nothing_loads_openssl_until_first_use_then_all_works(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", FIRST_USE_SCRIPT, str(cert), str(key)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    # Digests and HMACs with Python's builtin hash implementations: no OpenSSL yet.
    assert out["at_start"] == out["after_builtin_hashes"] == []
    assert out["sha256"] == hashlib.sha256(b"abc").hexdigest()
    from django.utils.crypto import salted_hmac

    assert out["salted_hmac"] == salted_hmac("salt", "value", secret="s", algorithm="sha256").hexdigest()
    assert out["hmac"] == out["hmac_named"] == hmac.new(b"key", b"message", "sha256").hexdigest()
    assert out["compare_digest"] is True
    # What only OpenSSL has loads it.
    assert out["pbkdf2"] == hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 1000).hex()
    assert out["sha512_256"] == hashlib.new("sha512_256", b"abc").hexdigest()
    assert "_hashlib" in out["after_pbkdf2"]
    # TLS as before: http.client and smtplib saw ssl at their import; asyncio's TLS works.
    assert out["https_connection"] == "HTTPSConnection"
    assert out["smtp_starttls"] is True
    assert out["found_specs"] == ["ssl", "hashlib"]
    assert out["after_find_spec"] == ["_hashlib"]  # finding ssl's spec does not load it
    assert out["asyncio_tls"] == "over tls"
    assert out["after_tls"] == ["_ssl", "_hashlib"]


@pytest.mark.django_db(transaction=True)
def test_runworker__loads_openssl_at_the_first_job_that_needs_it(job_types, tmp_path):
    """A real worker: no OpenSSL at start; a job hashing a password with Django's default
    (PBKDF2) hasher and making a TLS context gets both working."""
    job, _ = job_enqueue(organization=None, job_type="test_openssl", payload={}, created_by="test")
    env = worker_env(JOBS_HANDLER_MODULES="tests.job_types", LOG_DIR=str(tmp_path / "logs"))
    run_burst("--concurrency", "1", env=env, log_dir=tmp_path)

    job = BackgroundJob.objects.get(pk=job.pk)
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert job.result == {
        "openssl_before": False,
        "hasher": "pbkdf2_sha256",
        "password_checks": True,
        "tls_context": "SSLContext",
        "openssl_after": True,
    }


# As `manage.py runworker` starts: the admin's models, nothing else of it until used.
ADMIN_SCRIPT = r"""
import json, os, sys
from hcm.worker_imports import prepare_worker_imports

os.environ["DJANGO_SETTINGS_MODULE"] = "hcm.settings_worker"
prepare_worker_imports()
import django

django.setup()
from django.apps import apps

out = {"pages_at_start": "django.contrib.admin.options" in sys.modules}
log_entry = apps.get_model("admin", "LogEntry")
from django.contrib import admin  # what a job would write to use the admin

out["site"] = admin.site.name
out["model_admin"] = admin.ModelAdmin.__name__
out["models_module"] = admin.models.LogEntry is log_entry
out["pages_after"] = "django.contrib.admin.options" in sys.modules
print(json.dumps(out))
"""


@pytest.mark.django_db
def test_import_admin_models_only__the_rest_of_the_admin_loads_at_first_use():
    env = worker_env()
    done = subprocess.run(
        [sys.executable, "-c", ADMIN_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "pages_at_start": False,
        "site": "admin",
        "model_admin": "ModelAdmin",
        "models_module": True,
        "pages_after": True,
    }


@pytest.mark.django_db(transaction=True)
def test_runworker__deleting_a_user_deletes_their_admin_log_entries(job_types, tmp_path, org):
    """The worker has the admin's models (not its pages): a user's LogEntry rows cascade."""
    user = make_user(org, username="leaving")
    LogEntry.objects.create(
        user=user, content_type=ContentType.objects.get_for_model(user), object_id=str(user.pk),
        object_repr="leaving", action_flag=ADDITION,
    )  # fmt: skip
    job, _ = job_enqueue(organization=None, job_type="test_delete_user", payload={"user_id": user.pk}, created_by="t")
    env = worker_env(JOBS_HANDLER_MODULES="tests.job_types", LOG_DIR=str(tmp_path / "logs"))
    run_burst("--concurrency", "1", env=env, log_dir=tmp_path)

    job = BackgroundJob.objects.get(pk=job.pk)
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert job.result["admin.LogEntry"] == 1
    assert not LogEntry.objects.exists()
