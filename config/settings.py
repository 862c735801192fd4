"""Tender settings: one file, driven by environment variables, with safe local defaults.

Every knob an operator may turn is read here once; the rest of the code reads ``settings``.
Secrets fail loudly when DEBUG and DEMO_MODE are both off (a production deployment).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from kombu import Exchange, Queue

from config.serving import role_pool_size

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def redis_url_with_db(url: str, db: int) -> str:
    """Return ``url`` pointing at Redis database ``db`` (same host and credentials)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
# Demo mode seeds the test merchant and exposes /api/v1/test/*. TEST_MODE (the seed
# gateway's flag) also makes the simulator deterministic; either one turns demo mode on.
TEST_MODE = env_bool("TEST_MODE", False)
DEMO_MODE = env_bool("DEMO_MODE", TEST_MODE)

INSECURE_SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY", "") or INSECURE_SECRET_KEY
# Outside demo mode, servers, workers and Beat refuse to start unless SECRET_KEY,
# PROVIDER_WEBHOOK_SECRET and FIELD_ENCRYPTION_KEYS are set (common.checks); tooling
# commands (makemigrations, check) only warn.

# Fernet keys for secrets at rest (payments.encryption), newest first: the first encrypts,
# all decrypt. Rotate by prepending a key and running `manage.py encryption_rotate`.
# Unset in demo mode: one key derived from SECRET_KEY. Required outside demo mode.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", "")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS",
    "http://localhost:8000,http://localhost:3000,http://localhost:3001,"
    "http://127.0.0.1:8000,http://127.0.0.1:3000,http://127.0.0.1:3001",
)
# Public base URL of this gateway, used in links (checkout redirects, simulator callbacks).
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "channels",
    "axes",
    "common",
    "payments",
    "webhooks",
    "webhooks.destinations",
    "realtime",
    "reconciliation",
    "notifications",
]

MIDDLEWARE = [
    "common.correlation.CorrelationIdMiddleware",
    "common.http.no_store.NoStoreMiddleware",  # outermost but one: sees every final answer
    "common.http.inputs.RequestInputMiddleware",  # bad path/query/header bytes: 400 before routing
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "common.http.overload.DatabaseOverloadMiddleware",
    # last, as django-axes asks: turns a locked-out login into its 429 answer
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
APPEND_SLASH = False  # API paths have no trailing slash; never redirect a POST.

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
            ],
        },
    },
]

# ---------------------------------------------------------------------------
# Database: PostgreSQL is the only source of truth.
# ---------------------------------------------------------------------------
# A serving process (started by ``python -m config.serving run <role>``) gets a psycopg pool
# sized by its role in config/serving.py, the one place the connection budget is decided
# and checked against the server's max_connections. Without a role (tests, manage.py
# tooling) a thread keeps one persistent connection, as before.
DB_POOL_SIZE = role_pool_size(os.environ.get("TENDER_ROLE"))
# A request that waits longer than this for a pooled connection is answered 503 + Retry-After.
DB_POOL_TIMEOUT = float(os.environ.get("DB_POOL_TIMEOUT", "5"))
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tender"),
        conn_max_age=0 if DB_POOL_SIZE else env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=not DB_POOL_SIZE,  # the pool checks a connection before lending it
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services own their transactions
DATABASES["default"].setdefault("OPTIONS", {})
# Fail fast instead of hanging when PostgreSQL is unreachable.
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 3))
if DB_POOL_SIZE:
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_SIZE,
        "timeout": DB_POOL_TIMEOUT,
        "max_idle": 300,
    }
# A status long-poll (served async by daphne) wakes on the payment's push and re-reads
# PostgreSQL at least this often anyway, since pushes are best effort.
LONG_POLL_RECHECK_SECONDS = float(os.environ.get("LONG_POLL_RECHECK_SECONDS", "1"))
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", "test_tender")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------
# Redis: cache, channel layer, rate limits, worker heartbeats. Carries messages only.
# ---------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT", "1.0"))
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {
            "socket_timeout": REDIS_SOCKET_TIMEOUT,
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        },
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [REDIS_URL],
            "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "tender"),
            "capacity": env_int("CHANNEL_LAYER_CAPACITY", 1500),
            "expiry": 60,
        },
    }
}

# ---------------------------------------------------------------------------
# Celery: reliability first. Tasks carry ids only; PostgreSQL holds the work.
# ---------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", redis_url_with_db(REDIS_URL, 1))
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Redis redelivers an unacknowledged task after this long; sweepers in PostgreSQL
    # re-derive lost work sooner, so this is only a backstop.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    "socket_timeout": 5,
    "socket_connect_timeout": 5,
}
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_TASK_DEFAULT_QUEUE = "default"
_celery_exchange = Exchange("tender", type="direct")
_QUEUE_NAMES = (
    "default", "payments", "outbox", "webhooks", "webhook_retries", "reconciliation",
    "notifications", "simulator",
)  # fmt: skip
CELERY_TASK_QUEUES = [Queue(name, _celery_exchange, routing_key=name) for name in _QUEUE_NAMES]
CELERY_TASK_DEFAULT_EXCHANGE = "tender"
CELERY_TASK_DEFAULT_ROUTING_KEY = "default"
CELERY_TASK_ROUTES = {
    "payments.tasks.*": {"queue": "payments", "routing_key": "payments"},
    "payments.outbox_tasks.*": {"queue": "outbox", "routing_key": "outbox"},
    "webhooks.tasks.webhook_delivery_first_attempt": {"queue": "webhooks", "routing_key": "webhooks"},
    "webhooks.tasks.*": {"queue": "webhook_retries", "routing_key": "webhook_retries"},
    "reconciliation.tasks.*": {"queue": "reconciliation", "routing_key": "reconciliation"},
    "notifications.tasks.*": {"queue": "notifications", "routing_key": "notifications"},
}
# The simulator plays the acquirer: its outcome notifications run on the default queue
# unless a layout gives the stand-in acquirer a worker of its own (config/serving.py's
# `simulator` role sets "simulator"), so its work is not counted as the payments worker's.
SIMULATOR_NOTIFY_QUEUE = os.environ.get("SIMULATOR_NOTIFY_QUEUE", "default")
CELERY_TASK_ROUTES["payments.providers.simulator.tasks.simulator_notify"] = {
    "queue": SIMULATOR_NOTIFY_QUEUE,
    "routing_key": SIMULATOR_NOTIFY_QUEUE,
}
CELERY_BEAT_SCHEDULER = "config.beat:CheckedDatabaseScheduler"  # django-celery-beat, refusing without secrets
CELERY_TIMEZONE = "UTC"
# A worker writes a heartbeat to Redis this often; /health calls it stopped after the TTL.
WORKER_HEARTBEAT_INTERVAL = env_int("WORKER_HEARTBEAT_INTERVAL", 5)
WORKER_HEARTBEAT_TTL = env_int("WORKER_HEARTBEAT_TTL", 30)

# ---------------------------------------------------------------------------
# Auth, sessions, i18n
# ---------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes) for the dashboard and the admin: after AXES_FAILURE_LIMIT
# failures an account is locked (from every IP) and so is the IP (for every account), for
# AXES_COOLOFF_MINUTES; a locked-out login answers 429. Attempts are kept in PostgreSQL.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: per account, per IP
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "common.http.client_ip.client_ip"  # the same client IP as the API's limits
AXES_HTTP_RESPONSE_CODE = 429
LOGIN_URL = "/login"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / ".staticfiles"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the dashboard's fetch() reads it to send X-CSRFToken
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"  # the checkout view relaxes this for the SDK iframe only
# Secrets shown once never travel in a cookie: messages live in the server-side session.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
# Client IP: REMOTE_ADDR, unless TRUSTED_PROXY_COUNT reverse proxies stand in front; then
# the address that many hops from the right of X-Forwarded-For (the one the outermost
# trusted proxy saw). With 0, a client-sent X-Forwarded-For is ignored (common.http.client_ip).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# Production mode (DEMO_MODE off) is served over HTTPS behind a TLS-terminating proxy that
# sets X-Forwarded-Proto: HSTS, secure cookies, HTTP -> HTTPS redirects (but /health, for
# load balancers); `manage.py check --deploy` is clean (tests/foundation/test_production_mode).
if not DEMO_MODE:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^health$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# ---------------------------------------------------------------------------
# REST API
# ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["payments.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["common.http.throttling.ApiKeyRateLimit"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["common.http.inputs.StrictJSONParser"],
    "EXCEPTION_HANDLER": "common.http.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
# Requests per second allowed per API key (atomic Redis counter); 0 disables the limit.
API_RATE_LIMIT_PER_SECOND = env_int("API_RATE_LIMIT_PER_SECOND", 100)
# The public checkout create has no API key: it is limited per client IP and per order, so
# the hosted checkout cannot be used to test stolen cards at speed. 0 disables a limit.
# The client IP is TRUSTED_PROXY_COUNT's (DRF's NUM_PROXIES, 0 = REMOTE_ADDR only).
CHECKOUT_RATE_LIMIT_PER_MINUTE = env_int("CHECKOUT_RATE_LIMIT_PER_MINUTE", 30)
CHECKOUT_ATTEMPTS_PER_ORDER_PER_HOUR = env_int("CHECKOUT_ATTEMPTS_PER_ORDER_PER_HOUR", 10)
# 0, not None: DRF's None would take the whole client-sent X-Forwarded-For as the identity.
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024)

SPECTACULAR_SETTINGS = {
    "TITLE": "Tender API",
    "DESCRIPTION": (
        "Asynchronous payment gateway. Authenticate with `X-Api-Key` + `X-Api-Secret` headers "
        "(or HTTP Basic `key:secret`). Every error uses the envelope "
        '`{"error": {"code", "description", "field", "reason", "correlation_id"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            "ApiSecret": {"type": "apiKey", "in": "header", "name": "X-Api-Secret"},
            "BasicAuth": {"type": "http", "scheme": "basic"},
        }
    },
    "SECURITY": [{"ApiKey": [], "ApiSecret": []}, {"BasicAuth": []}],
    # Statuses every operation can give, NUL-free strings, closed request bodies: docs/api.md.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "payments.api.openapi.postprocess"],
    # Each status set appears in several components (Payment, PaymentPublic, the status
    # timeline, ...); name the shared enums instead of letting them collide on "status".
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "payments.states.OrderStatus",
        "PaymentStatusEnum": "payments.states.PaymentStatus",
        "RefundStatusEnum": "payments.states.RefundStatus",
        "BatchStatusEnum": ["processing", "completed"],
    },
}

# ---------------------------------------------------------------------------
# Payments, simulator, webhooks (seed gateway flags keep their names)
# ---------------------------------------------------------------------------
TEST_PAYMENT_SUCCESS = env_bool("TEST_PAYMENT_SUCCESS", True)
TEST_PROCESSING_DELAY_MS = env_int("TEST_PROCESSING_DELAY", 1000)
WEBHOOK_RETRY_INTERVALS_TEST = env_bool("WEBHOOK_RETRY_INTERVALS_TEST", False)
# Private/loopback webhook targets are refused unless a self-hoster allows them.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", DEMO_MODE)

# ---------------------------------------------------------------------------
# Payments core (payments/): provider, simulator callbacks, idempotency, stuck payments
# ---------------------------------------------------------------------------
PAYMENT_PROVIDER = os.environ.get("PAYMENT_PROVIDER", "simulator")
# Live API keys are refused while PAYMENT_PROVIDER is the simulator (it moves no money and
# its test cards must mean nothing for live payments) unless this allows them, e.g. for a
# staging installation that rehearses live mode. Live payments on the simulator then ignore
# the test cards and VPAs (docs/security.md, "Test and live").
SIMULATOR_ALLOW_LIVE_KEYS = env_bool("SIMULATOR_ALLOW_LIVE_KEYS", False)
# Where the simulator posts its signed notifications (defaults to this gateway).
SIMULATOR_CALLBACK_BASE_URL = os.environ.get("SIMULATOR_CALLBACK_BASE_URL", "").rstrip("/") or PUBLIC_BASE_URL
# Shared secret of inbound provider notifications (the simulator signs with it). Its own
# secret, never derived from SECRET_KEY: required outside demo mode; demo mode falls back to
# a documented demo value.
PROVIDER_WEBHOOK_SECRET = os.environ.get("PROVIDER_WEBHOOK_SECRET", "")
# A pending payment the provider has had this long is asked about by the Beat job.
PAYMENT_STUCK_AFTER_SECONDS = env_int("PAYMENT_STUCK_AFTER_SECONDS", 120)
# A pending payment never handed to the provider (lost task) is re-queued after this long.
PAYMENT_RESUBMIT_AFTER_SECONDS = env_int("PAYMENT_RESUBMIT_AFTER_SECONDS", 30)
# A worker claims a payment/refund before calling the provider (outside any transaction);
# the claim is its lease. Until it expires no other worker (nor the sweeper) submits it, so
# keep it well above the provider client's longest call (connect + read timeout). An expired
# claim means the worker died mid-call: the sweeper resubmits (the provider is idempotent).
PAYMENT_SUBMISSION_LEASE_SECONDS = env_int("PAYMENT_SUBMISSION_LEASE_SECONDS", 60)
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24)
# An in-flight idempotency claim older than this belongs to a dead process; it may be reclaimed.
IDEMPOTENCY_STALE_SECONDS = env_int("IDEMPOTENCY_STALE_SECONDS", 30)
# Request bodies of the payments API above this size are refused (413) before parsing.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 64 * 1024)

# ---------------------------------------------------------------------------
# Customers and saved payment methods (payments/; docs/customers.md)
# ---------------------------------------------------------------------------
# Key of the saved-method fingerprints (HMAC-SHA256). Empty: derived from SECRET_KEY.
PAYMENT_METHOD_FINGERPRINT_KEY = os.environ.get("PAYMENT_METHOD_FINGERPRINT_KEY", "")
# Batch payments (docs/batches.md): creates per merchant per hour (0: no limit) and the
# body size a 1,000-item batch needs (the rest of the API keeps API_MAX_BODY_BYTES).
BATCH_RATE_LIMIT_PER_HOUR = env_int("BATCH_RATE_LIMIT_PER_HOUR", 10)
API_BATCH_MAX_BODY_BYTES = env_int("API_BATCH_MAX_BODY_BYTES", 512 * 1024)

# ---------------------------------------------------------------------------
# Customer notifications (notifications/; docs/notifications.md)
# ---------------------------------------------------------------------------
# Email goes through Django's mail framework. The default is the local mail sink that
# `make run` starts (manage.py mail_sink, 127.0.0.1:1025, prints every message).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "common.mail.SMTPBackend")  # Django's SMTP, with a deadline
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 1025)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)  # seconds per SMTP operation: a dead server fails the attempt
# Seconds for a whole send (connect, TLS, AUTH, message), however slowly the server answers;
# below NOTIFICATION_LEASE_SECONDS, so a send never outlives its lease (system check).
EMAIL_SEND_DEADLINE_SECONDS = env_int("EMAIL_SEND_DEADLINE_SECONDS", 30)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Tender receipts <receipts@tender.localhost>")
NOTIFICATION_MESSAGE_ID_DOMAIN = os.environ.get("NOTIFICATION_MESSAGE_ID_DOMAIN", "tender.localhost")
# SMS: "" (off), "console" (stdout) or "http" (signed POST to SMS_GATEWAY_URL).
SMS_BACKEND = os.environ.get("SMS_BACKEND", "console" if DEMO_MODE else "")
SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL", "")
SMS_GATEWAY_SECRET = os.environ.get("SMS_GATEWAY_SECRET", "")
# Delays (s) after failed attempt 1, 2, ...; after the last one the notification is failed.
NOTIFICATION_RETRY_DELAYS = [int(v) for v in env_list("NOTIFICATION_RETRY_DELAYS", "10,60,300,1800,7200")]
NOTIFICATION_RETRY_JITTER = float(os.environ.get("NOTIFICATION_RETRY_JITTER", "0.2"))
NOTIFICATION_RETRY_ETA_MAX_SECONDS = env_int("NOTIFICATION_RETRY_ETA_MAX_SECONDS", 60)
# A worker's lease on one send (well above EMAIL_TIMEOUT and the HTTP timeouts).
NOTIFICATION_LEASE_SECONDS = env_int("NOTIFICATION_LEASE_SECONDS", 120)

# ---------------------------------------------------------------------------
# Outbound webhooks (webhooks/): schedule, timeouts, claims, fairness
# ---------------------------------------------------------------------------
# Delays (s) after failed attempt 1, 2, ...: attempt 1 is immediate, so len + 1 attempts.
WEBHOOK_RETRY_DELAYS = [int(v) for v in env_list("WEBHOOK_RETRY_DELAYS", "5,300,1800,7200,18000,36000,36000")]
WEBHOOK_RETRY_JITTER = float(os.environ.get("WEBHOOK_RETRY_JITTER", "0.2"))  # +/- fraction
if WEBHOOK_RETRY_INTERVALS_TEST:  # the seed's test schedule: 0/5/10/15/20 s, 5 attempts
    WEBHOOK_RETRY_DELAYS = [5, 10, 15, 20]
    WEBHOOK_RETRY_JITTER = 0.0
WEBHOOK_CONNECT_TIMEOUT = float(os.environ.get("WEBHOOK_CONNECT_TIMEOUT", "2"))
# The DNS lookup of an endpoint or broker host (at registration and before each connect).
WEBHOOK_DNS_TIMEOUT = float(os.environ.get("WEBHOOK_DNS_TIMEOUT", "2"))
# Wall-clock deadline of one attempt: connect + send + status line + headers + body.
WEBHOOK_TOTAL_TIMEOUT = float(os.environ.get("WEBHOOK_TOTAL_TIMEOUT", "10"))
WEBHOOK_RESPONSE_BODY_LIMIT = env_int("WEBHOOK_RESPONSE_BODY_LIMIT", 8192)  # stored
# A response body longer than this is not read on: the attempt fails (response_too_large).
WEBHOOK_RESPONSE_READ_LIMIT = env_int("WEBHOOK_RESPONSE_READ_LIMIT", 1024 * 1024)
# A worker's claim on a batch of deliveries; a killed worker's claim is retaken after it.
WEBHOOK_DELIVERY_LEASE_SECONDS = env_int("WEBHOOK_DELIVERY_LEASE_SECONDS", 30)
# Claims in flight per endpoint: one hanging endpoint holds at most this many worker slots.
WEBHOOK_ENDPOINT_MAX_IN_FLIGHT = env_int("WEBHOOK_ENDPOINT_MAX_IN_FLIGHT", 1)
# The webhooks worker's threads (the same variable config/serving.py starts it with) and how
# many of them the slow lane (new, slow and failing endpoints) may hold at once.
WEBHOOK_WORKER_THREADS = env_int("WEBHOOKS_THREADS", 32)
WEBHOOK_SLOW_LANE_THREADS = env_int("WEBHOOK_SLOW_LANE_THREADS", max(1, WEBHOOK_WORKER_THREADS // 4))
# An attempt this long (or cut by the deadline) puts its endpoint in the slow lane for at least
# WEBHOOK_SLOW_LANE_HOLD_SECONDS.
WEBHOOK_SLOW_ATTEMPT_SECONDS = float(os.environ.get("WEBHOOK_SLOW_ATTEMPT_SECONDS", "2"))
WEBHOOK_SLOW_LANE_HOLD_SECONDS = env_int("WEBHOOK_SLOW_LANE_HOLD_SECONDS", 600)
# HTTP requests in parallel within that one claim (threads doing I/O, one worker slot).
WEBHOOK_ENDPOINT_PARALLEL_REQUESTS = env_int("WEBHOOK_ENDPOINT_PARALLEL_REQUESTS", 4)
WEBHOOK_BATCH_SIZE = env_int("WEBHOOK_BATCH_SIZE", 100)
# Attempts of a claim start only this long after it (the rest go back to the pool), so a
# claim's results, written together, are recorded within about one attempt deadline.
WEBHOOK_CLAIM_SEND_SECONDS = float(os.environ.get("WEBHOOK_CLAIM_SEND_SECONDS", "1"))
# Claims/attempt results commit with synchronous_commit=off (a crash can only cause a resend).
WEBHOOK_RELAXED_COMMIT = env_bool("WEBHOOK_RELAXED_COMMIT", True)
WEBHOOK_DRAIN_SECONDS = float(os.environ.get("WEBHOOK_DRAIN_SECONDS", "5"))
# Retries due sooner than this also get a Celery countdown (the sweeper is the backstop).
WEBHOOK_RETRY_ETA_MAX_SECONDS = env_int("WEBHOOK_RETRY_ETA_MAX_SECONDS", 60)
WEBHOOK_RETRY_AFTER_MAX_SECONDS = env_int("WEBHOOK_RETRY_AFTER_MAX_SECONDS", 3600)
WEBHOOK_DISABLE_AFTER_SECONDS = env_int("WEBHOOK_DISABLE_AFTER_SECONDS", 5 * 24 * 3600)
WEBHOOK_ROTATION_GRACE_SECONDS = env_int("WEBHOOK_ROTATION_GRACE_SECONDS", 24 * 3600)
WEBHOOK_ROTATION_GRACE_MAX_SECONDS = 7 * 24 * 3600

# ---------------------------------------------------------------------------
# Serving processes freeze their start-up objects out of the collector's sight (common/process.py).
PROCESS_GC_TUNING = env_bool("PROCESS_GC_TUNING", True)

# ---------------------------------------------------------------------------
# Event streams (webhooks/destinations/): broker destinations fed from the outbox
# ---------------------------------------------------------------------------
# Events read and published per batch (one pipeline / one round of confirms). Each batch
# costs a read, a cursor write and a round trip whatever its size: 2,000 published Redis
# streams at 0.68x the bare client where 500 reached 0.49x (bench event_streams). Batches
# are only this large with a backlog; a live flow publishes what committed since the last.
EVENT_DESTINATION_BATCH_SIZE = env_int("EVENT_DESTINATION_BATCH_SIZE", 2000)
EVENT_DESTINATION_CONNECT_TIMEOUT = float(os.environ.get("EVENT_DESTINATION_CONNECT_TIMEOUT", "2"))
# Wall-clock limit of one batch's publish + confirms.
EVENT_DESTINATION_PUBLISH_TIMEOUT = float(os.environ.get("EVENT_DESTINATION_PUBLISH_TIMEOUT", "10"))
# One publisher per destination: a killed worker's lease is retaken after this long. It must
# outlast the slowest batch (drain + publish + reconnect + publish; system check webhooks.E007).
EVENT_DESTINATION_LEASE_SECONDS = env_int("EVENT_DESTINATION_LEASE_SECONDS", 60)
# A drain works this long, then queues behind the other destinations (fairness between them).
EVENT_DESTINATION_DRAIN_SECONDS = float(os.environ.get("EVENT_DESTINATION_DRAIN_SECONDS", "5"))
# The publisher process is woken by NOTIFY; this poll is its safety net (lost wakes, leases).
EVENT_DESTINATION_POLL_SECONDS = float(os.environ.get("EVENT_DESTINATION_POLL_SECONDS", "1"))
# Backoff (s) after 1, 2, ... consecutive failed batches; the last step repeats for ever.
EVENT_DESTINATION_RETRY_DELAYS = [float(v) for v in env_list("EVENT_DESTINATION_RETRY_DELAYS", "1,2,5,10,15")]
# The merchant gets an event_destination.failing event after this long of failing.
EVENT_DESTINATION_NOTIFY_AFTER_SECONDS = env_int("EVENT_DESTINATION_NOTIFY_AFTER_SECONDS", 15 * 60)
# Cursor updates commit with synchronous_commit=off (a PostgreSQL crash can only cause a resend).
EVENT_DESTINATION_RELAXED_COMMIT = env_bool("EVENT_DESTINATION_RELAXED_COMMIT", True)
# A broker connection unused this long is reopened rather than trusted (idle heartbeats).
EVENT_DESTINATION_IDLE_SECONDS = float(os.environ.get("EVENT_DESTINATION_IDLE_SECONDS", "30"))

# ---------------------------------------------------------------------------
# Realtime sockets: an open merchant socket re-checks its ticket's authority (API key not
# revoked, merchant active, dashboard session still logged in) this often; at most 60 s.
# ---------------------------------------------------------------------------
REALTIME_AUTHORITY_RECHECK_SECONDS = min(env_int("REALTIME_AUTHORITY_RECHECK_SECONDS", 20), 60)

# ---------------------------------------------------------------------------
# Logging: one JSON line per record, with the correlation id.
# ---------------------------------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"correlation": {"()": "common.correlation.CorrelationIdLogFilter"}},
    "formatters": {"json": {"()": "common.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["correlation"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR", "propagate": True},
        "django.server": {"level": "WARNING", "propagate": True},
        "axes": {"level": "WARNING", "propagate": True},  # lockouts, not every start banner
    },
}

# ---------------------------------------------------------------------------
# Site root (realtime/views/root.py): what `GET /` shows depends on the port the client
# typed (the Host header's port, so it works behind a proxy that preserves Host and directly
# under daphne). Any other port gets the API index.
# ---------------------------------------------------------------------------
DASHBOARD_PORTS = env_list("DASHBOARD_PORTS", "3000")
CHECKOUT_PORTS = env_list("CHECKOUT_PORTS", "3001")
