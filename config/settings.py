"""Meterdesk settings: one file, every value from the environment (docs/api.md "Environment").

Unset variables give the embedded set-up (SQLite under var/, in-process cache, Celery's broker
and results as folders under var/, mail to var/mail/, the payment sandbox). Production sets DEBUG=0 and the variables it needs;
a bad value stops the process at start with a sentence naming the variable.
"""

from pathlib import Path
from urllib.parse import unquote, urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.cache import cache_settings
from config.env import env_bool, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("METERDESK_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)

DEV_SECRET_KEY = "dev-only-insecure-key-never-used-when-DEBUG-is-off-0123456789abcdef"
SECRET_KEY = env_str("SECRET_KEY") or (DEV_SECRET_KEY if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
if not DEBUG and (SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured("SECRET_KEY must be a random string of at least 50 characters.")
# Rotating SECRET_KEY (docs/operations.md): the old key goes here for a while, so sessions,
# password-reset and e-mail confirmation links signed with it keep working; new ones use the new key.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "django_htmx",
    "accounts",
    "teams",
    "billing",
    "apikeys",
    "pricing",
    "usage",
]

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "teams.middleware.CurrentWorkspaceMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "teams.context_processors.workspace",
                "config.site.site_context",
            ],
            # {% table %} and {% emptystate %}: the markup every page repeats, written once;
            # {% load values %}: the one way each kind of value (credits, USD, dates) is shown.
            "libraries": {"components": "config.components", "values": "config.values"},
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", {"postgres", "postgresql", "pgsql", "sqlite"})
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # Django turns psycopg's prepared statements off (for transaction-mode poolers). The
        # usage write asks for them (execute(prepare=True): parsed and planned once per
        # connection, not once per event); a threshold no query reaches keeps psycopg from
        # preparing anything else on its own. Behind PgBouncer in transaction mode this
        # needs PgBouncer 1.21 or newer with max_prepared_statements set.
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "meterdesk.sqlite3",
            # The web server and the Celery worker (make run) write side by side: WAL lets
            # readers go on while one writes; IMMEDIATE takes the write lock when a
            # transaction starts, so a second writer waits (up to timeout seconds, the busy
            # timeout) instead of failing with "database is locked" halfway through.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, rate limits and Celery ---------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", {"redis", "rediss", "unix"})
# With Redis, rate-limit counters fall back to process memory while it is unreachable.
CACHES = {"default": cache_settings(redis_url=REDIS_URL, key_prefix=env_str("CACHE_KEY_PREFIX", "md"))}

# Without Redis, Celery's broker and results are folders under var/ (kombu's filesystem
# transport, Celery's file backend): `make run` and a plain `celery -A config worker -B` run
# the same tasks on the same schedule as production, with no server to install. The worker
# polls the folder once a second.
CELERY_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = None
    # A message a worker took but never acknowledged (the worker was killed, its machine
    # died) goes back on the queue once it has been out this long, and another worker runs
    # it. It must exceed the longest task and the longest retry countdown (25 minutes, an
    # invoice collection's last retry): a task still running, or still waiting for its
    # countdown, past it would be handed to a second worker. Every sweep for such messages
    # scans Redis (one cheap sorted-set range); sweeping a few times per timeout, at most
    # every 10 s, brings a lost message back soon after it is due.
    CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        "unacked_restore_interval": max(1, min(10, CELERY_VISIBILITY_TIMEOUT // 4)),
        "unacked_restore_throttle": 1,
    }
else:
    for folder in ("queue", "control", "results"):
        (CELERY_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost/"  # the host is ignored; naming one avoids a warning
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DIR / "queue"),
        "data_folder_out": str(CELERY_DIR / "queue"),
        "control_folder": str(CELERY_DIR / "control"),
    }
    CELERY_RESULT_BACKEND = f"file://{CELERY_DIR / 'results'}"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Tests (tests/conftest.py) and the benchmarks run tasks in-process; nothing else does.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
# A task is acknowledged when it has finished, not when a worker takes it, and a task whose
# worker process died under it (SIGKILL, out of memory) goes back on the queue: every task
# is safe to run twice (billing.tasks, usage.tasks), so a lost worker loses no work. One
# message at a time per worker process: a killed worker holds back no others.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"

# --- Auth and allauth ----------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = None  # teams.adapter: "[SITE_NAME] "
ACCOUNT_ADAPTER = "teams.adapter.AccountAdapter"
ACCOUNT_FORMS = {"login": "accounts.forms.LoginForm"}
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
}

# --- E-mail --------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Meterdesk <no-reply@meterdesk.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Links in mails that jobs send (no request to take the host from): a failed recharge, ...
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# The name pages and e-mails speak as (config.site); the domain is SITE_URL's.
SITE_NAME = env_str("SITE_NAME", "Meterdesk")
EMAIL_URL = env_url("EMAIL_URL", {"smtp", "smtps", "submission"})
EMAIL_FILE_PATH = VAR_DIR / "mail"
if EMAIL_URL:
    _mail = urlparse(EMAIL_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _mail.hostname
    EMAIL_PORT = _mail.port or (465 if _mail.scheme == "smtps" else 587)
    EMAIL_HOST_USER = unquote(_mail.username or "")
    EMAIL_HOST_PASSWORD = unquote(_mail.password or "")
    EMAIL_USE_SSL = _mail.scheme == "smtps"
    EMAIL_USE_TLS = _mail.scheme != "smtps"
else:
    EMAIL_BACKEND = "config.mail.FileAndConsoleEmailBackend"

# --- Payments ------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env_url("STRIPE_API_BASE", {"http", "https"})
PAYMENTS_SANDBOX = not STRIPE_SECRET_KEY
if PAYMENTS_SANDBOX and not DEBUG:
    raise ImproperlyConfigured(
        "STRIPE_SECRET_KEY must be set when DEBUG is off: the payment sandbox is for development."
    )
# The seller printed on every invoice, copied onto it when it is issued. The address's lines
# are separated by "\n" (a backslash and n in the environment variable, or a real newline).
INVOICE_SELLER_NAME = env_str("INVOICE_SELLER_NAME", SITE_NAME)
INVOICE_SELLER_ADDRESS = env_str(
    "INVOICE_SELLER_ADDRESS", "100 Example Street\\nSan Francisco, CA 94105\\nUnited States"
).replace("\\n", "\n")
METERING_SERVICE_TOKEN = env_str("METERING_SERVICE_TOKEN") or None

# --- Internationalisation, static files ----------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request when it is missing
# plotly.min.js is served from the installed plotly package (no copy kept in the repo).
import plotly as _plotly  # noqa: E402

STATICFILES_DIRS = [BASE_DIR / "static", ("plotly", Path(_plotly.__file__).parent / "package_data")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security ------------------------------------------------------------------------------
# The one body limit: Django refuses a larger body, and the JSON API answers 413
# request_too_large past it (config.api.read_json_object). A batch of 1000 events fits.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 63072000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# Buying redirects a form post to Stripe Checkout, which form-action must allow (browsers
# apply it to the redirect). Scripts and styles come only from our own origin (plotly.js and htmx are served by
# whitenoise); plotly needs inline styles for its SVG.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self' https://checkout.stripe.com; object-src 'none'"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
    "loggers": {"meterdesk": {"level": env_str("LOG_LEVEL", "INFO")}},
}
