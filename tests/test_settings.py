"""Settings come from the environment; a bad value stops the process with a sentence naming it.

Each case starts a fresh Python process, because settings are read once, at import.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 20 + "-production-secret-key-for-tests-0123456789",
    "ALLOWED_HOSTS": "meterdesk.example.com",
    "STRIPE_SECRET_KEY": "sk_test_placeholder",
}
SHOW = (
    "from django.conf import settings as s; "
    "print(s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'], "
    "s.CELERY_TASK_ALWAYS_EAGER, s.EMAIL_BACKEND, s.DEBUG, s.PAYMENTS_SANDBOX)"
)


def run(env, code=SHOW, args=None, tmp_path=None):
    clean = {k: v for k, v in os.environ.items() if k not in {
        "DATABASE_URL", "REDIS_URL", "EMAIL_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS",
        "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE",
        "DJANGO_ALLOW_ASYNC_UNSAFE",  # set by the browser tests; the deploy check rightly refuses it
    }}
    clean.update(DJANGO_SETTINGS_MODULE="config.settings", METERDESK_VAR_DIR=str(tmp_path), **env)
    command = args or [sys.executable, "-c", f"import django; django.setup(); {code}"]
    return subprocess.run(command, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


def test_unset_environment_gives_the_embedded_set_up(tmp_path):
    result = run({}, code=SHOW + "; print(s.CELERY_BROKER_URL, s.CELERY_RESULT_BACKEND)", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    # Tasks go to a real worker (make run's), never run eagerly inside a web request.
    assert first.split() == [
        "django.db.backends.sqlite3", "django.core.cache.backends.locmem.LocMemCache", "False",
        "config.mail.FileAndConsoleEmailBackend", "True", "True",
    ]
    assert second.split() == ["filesystem://localhost/", f"file://{tmp_path}/celery/results"]
    assert (tmp_path / "celery" / "queue").is_dir()


def test_service_urls_switch_to_postgres_redis_and_smtp(tmp_path):
    result = run({
        "DATABASE_URL": "postgres://u:p@db.internal:5432/meterdesk",
        "REDIS_URL": "redis://cache.internal:6379/0",
        "EMAIL_URL": "smtp://user:pa%40ss@mail.internal:587",
    }, code=SHOW + "; print(s.EMAIL_HOST, s.EMAIL_HOST_PASSWORD, s.CELERY_BROKER_URL)", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.split()[:4] == [
        "django.db.backends.postgresql", "config.cache.RedisCacheWithLocalFallback", "False",
        "django.core.mail.backends.smtp.EmailBackend",
    ]
    assert second.split() == ["mail.internal", "pa@ss", "redis://cache.internal:6379/0"]


@pytest.mark.parametrize("env, sentence", [
    ({"DEBUG": "maybe"}, "DEBUG must be one of 1/0, true/false, yes/no or on/off; got 'maybe'."),
    ({"DATABASE_URL": "mysql://db/meterdesk"}, "DATABASE_URL must be a URL starting with"),
    ({"REDIS_URL": "http://cache:6379"}, "REDIS_URL must be a URL starting with"),
    ({"EMAIL_URL": "mailto:ops@example.com"}, "EMAIL_URL must be a URL starting with"),
    ({"STRIPE_API_BASE": "stripe.local"}, "STRIPE_API_BASE must be a URL starting with"),
    ({**PRODUCTION, "SECRET_KEY": ""}, "SECRET_KEY must be set when DEBUG is off."),
    ({**PRODUCTION, "SECRET_KEY": "short"}, "SECRET_KEY must be a random string of at least 50 characters."),
    ({**PRODUCTION, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must be set when DEBUG is off."),
    ({**PRODUCTION, "STRIPE_SECRET_KEY": ""}, "STRIPE_SECRET_KEY must be set when DEBUG is off"),
])
def test_a_bad_value_fails_at_start_naming_the_variable(env, sentence, tmp_path):
    result = run(env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert sentence in result.stderr


def test_production_settings_pass_the_deploy_check_without_warnings(tmp_path):
    result = run(PRODUCTION, args=[
        sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
    ], tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_turns_on_secure_cookies_hsts_and_csp(tmp_path):
    result = run(PRODUCTION, code=(
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS >= 31536000, s.SECURE_SSL_REDIRECT, 'default-src' in s.CONTENT_SECURITY_POLICY)"
    ), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"] * 5


def test_a_value_signed_before_secret_key_was_rotated_is_accepted_with_the_old_key_as_fallback(tmp_path):
    from django.core import signing

    old, new = "o" * 20 + "-the-key-before-rotation-0123456789abcd", "n" * 20 + "-the-key-after-rotation-0123456789abcde"
    token = signing.dumps("owner@example.com", key=old, salt="rotation")
    check = f"from django.core import signing; print(signing.loads({token!r}, salt='rotation'))"
    rotated = run({**PRODUCTION, "SECRET_KEY": new, "SECRET_KEY_FALLBACKS": old}, code=check, tmp_path=tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.strip() == "owner@example.com"
    forgotten = run({**PRODUCTION, "SECRET_KEY": new}, code=check, tmp_path=tmp_path)
    assert "BadSignature" in forgotten.stderr  # once the old key is dropped, its signatures are refused


def test_the_celery_visibility_timeout_comes_from_the_environment(tmp_path):
    show = "from django.conf import settings as s; print(s.CELERY_BROKER_TRANSPORT_OPTIONS)"
    result = run({"REDIS_URL": "redis://cache.internal:6379/0", "CELERY_VISIBILITY_TIMEOUT": "8"}, code=show,
                 tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "'visibility_timeout': 8" in result.stdout and "'unacked_restore_interval': 2" in result.stdout
    bad = run({"REDIS_URL": "redis://cache.internal:6379/0", "CELERY_VISIBILITY_TIMEOUT": "soon"}, code=show,
              tmp_path=tmp_path)
    assert "CELERY_VISIBILITY_TIMEOUT must be a whole number of at least 1; got 'soon'." in bad.stderr
