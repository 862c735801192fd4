"""Production mode never runs on a demo secret: servers, workers and Beat refuse to start
without SECRET_KEY, PROVIDER_WEBHOOK_SECRET and FIELD_ENCRYPTION_KEYS (naming them), the
provider webhook secret is its own (not derived from SECRET_KEY), and demo credentials exist
only in demo mode (seeding, the demo API key, printed passwords, docker-compose)."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from common.checks import production_secrets_check
from payments.demo import TEST_API_KEY, TEST_API_SECRET
from payments.encryption import encrypt
from payments.models import ApiKey, Merchant
from payments.providers.simulator import signing
from tests.support.processes import BIN, ROOT

REQUIRED = ("SECRET_KEY", "PROVIDER_WEBHOOK_SECRET", "FIELD_ENCRYPTION_KEYS")
FERNET_KEY = "Dk-Q1rsn0J5Q3Sg8aV4Y3Z6xTq3kL3hvvmY5N0lq0oY="


def production_env(**secrets: str) -> dict[str, str]:
    """This test run's environment as a fresh production start: real settings module, demo
    and test mode off, none of the required secrets unless given."""
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED and k != "DEBUG"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DEMO_MODE="false", TEST_MODE="false", **secrets)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, timeout=90, text=True)


def refusal_names(output: str) -> set[str]:
    match = re.search(r"refuses to start in production mode \(DEMO_MODE is off\) without ([A-Z_, ]+):", output)
    assert match, output[-2000:]
    return {name.strip() for name in match.group(1).split(",")}


CELERY_WORKER = [str(BIN / "celery"), "-A", "config", "worker", "-Q", "default", "-c", "1"]
CELERY_WORKER += ["--without-mingle", "--without-gossip"]


def test_every_serving_process_refuses_to_start_and_names_each_missing_secret(tmp_path):
    env = production_env()
    commands = {
        "asgi": [sys.executable, "-c", "import config.asgi"],
        "wsgi": [sys.executable, "-c", "import config.wsgi"],
        "worker": CELERY_WORKER,
        "beat": [str(BIN / "celery"), "-A", "config", "beat", "-s", str(tmp_path / "beat-schedule")],
    }
    # Started together (each is a cold Django start): the four refusals take one start's time.
    started = {
        name: subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name, args in commands.items()
    }
    for name, process in started.items():
        output, _ = process.communicate(timeout=90)
        assert process.returncode != 0, name
        assert refusal_names(output) == set(REQUIRED), name


def test_the_refusal_names_only_what_is_missing_and_published_placeholders_count_as_missing():
    env = production_env(SECRET_KEY="change-me", FIELD_ENCRYPTION_KEYS=FERNET_KEY)  # compose's old default
    result = run([sys.executable, "-c", "import config.asgi"], env)
    assert result.returncode != 0
    assert refusal_names(result.stderr) == {"SECRET_KEY", "PROVIDER_WEBHOOK_SECRET"}


def test_system_check_warns_with_the_same_names(settings):
    settings.DEMO_MODE = False
    settings.SECRET_KEY = settings.INSECURE_SECRET_KEY
    settings.PROVIDER_WEBHOOK_SECRET = ""
    settings.FIELD_ENCRYPTION_KEYS = []
    [warning] = production_secrets_check(None)
    assert warning.id == "tender.W001"
    assert refusal_names(warning.msg) == set(REQUIRED)
    settings.DEMO_MODE = True
    assert production_secrets_check(None) == []


# --- nothing is improvised outside demo mode ---------------------------------------------


def test_outside_demo_mode_the_provider_secret_and_encryption_keys_are_never_improvised(settings):
    settings.DEMO_MODE = False
    settings.PROVIDER_WEBHOOK_SECRET = ""
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="PROVIDER_WEBHOOK_SECRET"):
        signing.sign(b"{}")
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        encrypt("whsec_x")


# --- demo credentials exist only in demo mode ------------------------------------------


@pytest.mark.django_db
def test_seed_demo_refuses_outside_demo_mode_and_prints_nothing(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    settings.DEMO_MODE = False
    out = StringIO()
    with pytest.raises(CommandError, match="only runs in demo mode"):
        call_command("seed_demo", stdout=out)
    assert out.getvalue() == ""
    assert not Merchant.objects.exists() and not ApiKey.objects.exists()
    assert not (tmp_path / ".demo").exists()


@pytest.mark.django_db
def test_demo_key_is_refused_outside_demo_mode_even_if_the_row_exists(demo, settings, anon):
    headers = {"HTTP_X_API_KEY": TEST_API_KEY, "HTTP_X_API_SECRET": TEST_API_SECRET}
    assert anon.get("/api/v1/orders", **headers).status_code == 200
    settings.DEMO_MODE = False
    assert ApiKey.objects.filter(key_id=TEST_API_KEY, revoked_at__isnull=True).exists()
    refused = anon.get("/api/v1/orders", **headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "AUTHENTICATION_ERROR"
    basic = anon.get("/api/v1/orders", HTTP_AUTHORIZATION="Basic " + _basic(TEST_API_KEY, TEST_API_SECRET))
    assert basic.status_code == 401


def _basic(key: str, secret: str) -> str:
    import base64

    return base64.b64encode(f"{key}:{secret}".encode()).decode()


def test_banner_prints_no_demo_password_outside_demo_mode(tmp_path):
    (tmp_path / ".demo").mkdir()
    (tmp_path / ".demo" / "credentials.json").write_text(
        json.dumps({"admin_password": "stale-admin-pw", "dashboard_password": "stale-dash-pw", "api_key": TEST_API_KEY})
    )
    script = str(Path(ROOT) / "scripts" / "print-banner.sh")
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    off = subprocess.run(
        ["bash", script], cwd=tmp_path, env={**os.environ, "DEMO_MODE": "false"}, capture_output=True, text=True
    )
    assert off.returncode == 0
    assert "stale-admin-pw" not in off.stdout and "stale-dash-pw" not in off.stdout and TEST_API_KEY not in off.stdout
    on = subprocess.run(
        ["bash", script], cwd=tmp_path, env={**os.environ, "DEMO_MODE": "true"}, capture_output=True, text=True
    )
    assert "stale-admin-pw" in on.stdout  # demo mode: the banner is the documented way in


def test_docker_compose_ships_no_default_secret_and_seeds_only_when_asked():
    compose = (Path(ROOT) / "docker-compose.yml").read_text()
    for name in REQUIRED:
        assert re.search(rf"^\s+{name}: \$\{{{name}:-\}}$", compose, re.MULTILINE), name
    assert "change-me" not in compose
    assert re.search(r"^\s+DEMO_MODE: \$\{DEMO_MODE:-false\}$", compose, re.MULTILINE)
    assert 'if [ "$$DEMO_MODE" = "true" ]; then python manage.py seed_demo; fi' in compose


# --- production mode is served as HTTPS ----------------------------------------------------

PRODUCTION_PROBE = """
import json
import config.asgi, config.wsgi  # with every secret set, the servers start
from django.conf import settings
from django.test import Client
client = Client()
plain = client.get("/api/v1/orders")
tls = client.get("/api/v1/orders", HTTP_X_FORWARDED_PROTO="https")
health = client.get("/health")
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "hsts": tls.get("Strict-Transport-Security"),
    "health_redirected": health.status_code == 301,
    "cookies_secure": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE],
}))
"""


def test_production_mode_starts_with_every_secret_and_is_deploy_clean_with_hsts_and_https_redirects():
    env = production_env(
        SECRET_KEY=secrets.token_urlsafe(50), PROVIDER_WEBHOOK_SECRET="p" * 40, FIELD_ENCRYPTION_KEYS=FERNET_KEY
    )
    options = {"cwd": ROOT, "env": env, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    deploy = subprocess.Popen([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], **options)
    probe = subprocess.Popen([sys.executable, "-c", PRODUCTION_PROBE], **options)
    deploy_out, deploy_err = deploy.communicate(timeout=90)
    probe_out, probe_err = probe.communicate(timeout=90)
    assert deploy.returncode == 0, deploy_out + deploy_err
    assert "System check identified no issues" in deploy_out
    assert probe.returncode == 0, probe_err[-2000:]
    seen = json.loads(probe_out.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://testserver/api/v1/orders"]
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["health_redirected"] is False  # load balancers probe /health over plain HTTP
    assert seen["cookies_secure"] == [True, True]
