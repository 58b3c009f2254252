"""Vitiweb settings.

Embedded defaults (SQLite file, in-memory channel layer, eager Celery) make
``make run`` work on a bare machine; production services come from the
environment:

``DATABASE_URL``            PostgreSQL, e.g. ``postgres://user:pw@host:5432/vitiweb``
``REDIS_URL``               channel layer and Celery broker, e.g. ``redis://host:6379/0``
``SECRET_KEY``              Django's signing key (required when ``DEBUG`` is off)
``DEBUG``                   ``1``/``0`` (default ``1`` for the local one-command start)
``ALLOWED_HOSTS``           comma-separated host names
``VITIWEB_CREDENTIALS_KEYS`` comma-separated Fernet keys encrypting cluster credentials;
                            the first encrypts, all decrypt (rotation)
``VITIWEB_SECURE_SSL_REDIRECT`` ``0`` to leave HTTPS redirection to a proxy
"""

import logging
import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VITIWEB_VAR_DIR", BASE_DIR / "var"))
# Local state (the SQLite file, the sandbox kubeconfig) lives here; a fresh clone has none yet.
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_flag("DEBUG", True)

# A fixed key is only acceptable for the local, debug-mode start.
_DEV_SECRET_KEY = "vitiweb-insecure-development-key-only-for-local-debug-use"
SECRET_KEY = os.environ.get("SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "vitiweb.apps.DaphneRunserverConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    "django_htmx",
    "csp",
    "axes",
    "rest_framework.authtoken",
    "vitiweb",
    "stacks",
    "providers",
    "machines",
    "vitiweb.editing",
    "gitops",
    "vitiweb.monitoring",
    # The published API's other kinds (see vitiweb.registry).
    "machineclasses",
    "clusters",
    "networks",
    "storage",
    "providerconfigs",
]

MIDDLEWARE = [
    # Probes first: answered before host checks, HTTPS redirection and logging (vitiweb/health.py).
    "vitiweb.health.HealthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files before anything touches the session or the database: WhiteNoise answers them itself.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "vitiweb.requestlog.RequestLogMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "vitiweb.urls"

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
                "csp.context_processors.nonce",
            ],
        },
    },
]

ASGI_APPLICATION = "vitiweb.asgi.application"
WSGI_APPLICATION = "vitiweb.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'vitiweb.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Shown in pg_stat_activity: set it per role (web, sync, worker) to see who holds connections.
    DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = os.environ.get(
        "DATABASE_APPLICATION_NAME", "vitiweb"
    )
    DATABASE_POOL_MAX_SIZE = int(os.environ.get("DATABASE_POOL_MAX_SIZE", "10"))
    if DATABASE_POOL_MAX_SIZE > 0:
        # A sync worker runs four threads per cluster that touch the database (supervisor, writer, monitor,
        # events writer). Kept open per thread, their connections exhausted PostgreSQL's default of 100 at
        # about 30 clusters; from a pool, each thread borrows one for a unit of work and gives it back, so a
        # process never holds more than the pool's size. Persistent connections and a pool exclude each other.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": 1, "max_size": DATABASE_POOL_MAX_SIZE, "timeout": 30}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The sync threads and the web server share one SQLite file: wait for the
    # write lock instead of failing at once, and let readers proceed (WAL).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not SQLite's shared-cache memory database: the sync tests write
    # from several threads, and only a file honours the busy timeout.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Collected at build time (`collectstatic`), read-only at run time: the image keeps it outside VAR_DIR.
STATIC_ROOT = Path(os.environ.get("VITIWEB_STATIC_ROOT") or VAR_DIR / "staticfiles")
# Production serves static files from the application (WhiteNoise): names carry a content hash,
# gzip and brotli copies are made by collectstatic, and hashed files are cached for a year.
# The local start keeps Django's plain storage, so no collectstatic is needed to begin.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# The local start (and any DEBUG server) serves static files straight from the source folders.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, exactly as long as channels-redis
            # blocks waiting for a message (BZPOPMIN, 5 s): every idle websocket's receive loop failed
            # with a TimeoutError. Reads may now wait longer than the block; a dead server still fails.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}]},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    # No broker process in the one-command start: run tasks where they are sent.
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True
# Git sources (gitops): how often they are fetched, how long drift waits for a burst of changes to settle,
# and how much of a repository is read.
VITIWEB_GIT_FETCH_INTERVAL = float(os.environ.get("VITIWEB_GIT_FETCH_INTERVAL", "60"))
VITIWEB_GIT_DRIFT_DEBOUNCE_SECONDS = float(os.environ.get("VITIWEB_GIT_DRIFT_DEBOUNCE_SECONDS", "0.5"))
VITIWEB_GIT_MAX_FILES = int(os.environ.get("VITIWEB_GIT_MAX_FILES", "5000"))
VITIWEB_GIT_MAX_FILE_BYTES = int(os.environ.get("VITIWEB_GIT_MAX_FILE_BYTES", str(1024 * 1024)))
VITIWEB_GIT_MAX_TOTAL_BYTES = int(os.environ.get("VITIWEB_GIT_MAX_TOTAL_BYTES", str(50 * 1024 * 1024)))
# A gradual promotion waits this long for each batch of Machines to become Ready.
VITIWEB_PROMOTION_BATCH_TIMEOUT = float(os.environ.get("VITIWEB_PROMOTION_BATCH_TIMEOUT", "900"))
VITIWEB_PROMOTION_POLL_SECONDS = 1.0
# The guide's conventions ("Best Practices for Integration"), checked as findings; adapt them to your own.
VITIWEB_CONVENTIONS = {
    "names": {
        "Vitistack": "{environment}-{region}-vitistack",
        "MachineProvider": "{provider-type}-{region}-provider",
        "KubernetesProvider": "{provider-type}-{region}-provider",
        "Machine": "{role}-{environment}-{sequence}",
    },
    "labels": ["vitistack.io/environment", "vitistack.io/region", "vitistack.io/team", "vitistack.io/version"],
    "annotations": ["vitistack.io/description", "vitistack.io/contact", "vitistack.io/documentation"],
    "environments": ["production", "staging", "development", "test"],
    "severity": {"naming-convention": "info", "recommended-metadata": "info", "environment-placement": "warning"},
}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
# Periodic, idempotent: a full relist of every cluster, and the connection tests.
CELERY_BEAT_SCHEDULE = {
    "resync-clusters": {"task": "vitiweb.tasks.resync_clusters", "schedule": 15 * 60.0},
    "test-connections": {"task": "vitiweb.tasks.test_connections", "schedule": 5 * 60.0},
    "fetch-git-sources": {"task": "gitops.tasks.fetch_all_sources", "schedule": VITIWEB_GIT_FETCH_INTERVAL},
}

# Cluster credentials are encrypted with these keys (cryptography's Fernet).
# Development derives one from SECRET_KEY so a local start needs no setup.
VITIWEB_CREDENTIALS_KEYS = env_list("VITIWEB_CREDENTIALS_KEYS")
if not VITIWEB_CREDENTIALS_KEYS and not DEBUG:
    raise ImproperlyConfigured("VITIWEB_CREDENTIALS_KEYS must be set when DEBUG is off.")

VITIWEB_CRDS_DIR = BASE_DIR / "crds"
VITIWEB_EXAMPLES_DIR = BASE_DIR / "examples"

REST_FRAMEWORK = {
    # No Basic authentication: a password sent with every call is a password guessed at every call.
    # Scripts use a token (Django admin > Tokens); browsers their session.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.DjangoModelPermissions"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Vitiweb API",
    "VERSION": "0.1.0",
    # The schema lists every filter and field: for logged-in users only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# Security: everything strict unless running the local debug start.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env_flag("VITIWEB_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("VITIWEB_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        # NONCE is django-csp 4's sentinel: a per-request nonce-... source (the string "'nonce'" is not one).
        "script-src": ["'self'", NONCE],
        # Plotly sets inline styles on the elements it draws.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
}

# One line per event; LOG_FORMAT=json for log collectors (vitiweb/logs.py: request id, cluster, kind,
# secrets redacted). Each request is one line from vitiweb.request; Django's own request
# warnings would repeat it.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")
# Python warnings become log records too: one line each, in the chosen format.
logging.captureWarnings(True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "vitiweb.logs.ContextFilter"}},
    "formatters": {
        "plain": {"()": "vitiweb.logs.PlainFormatter"},
        "json": {"()": "vitiweb.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("VITIWEB_LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"level": "INFO"},
        "django.request": {"level": "ERROR"},
        "django.channels.server": {"level": "WARNING"},
        "kubernetes": {"level": "WARNING"},
    },
}

# Troubleshooting (vitiweb.monitoring): Events kept per object and at most this old; /metrics access.
VITIWEB_EVENTS_PER_OBJECT = int(os.environ.get("VITIWEB_EVENTS_PER_OBJECT", "25"))
VITIWEB_EVENTS_MAX_AGE_HOURS = float(os.environ.get("VITIWEB_EVENTS_MAX_AGE_HOURS", "24"))
VITIWEB_EVENTS_PER_CLUSTER = int(os.environ.get("VITIWEB_EVENTS_PER_CLUSTER", "20000"))
# Each sync worker also mirrors its clusters' Events and evaluates their alerts and RBAC checks.
VITIWEB_MONITOR = env_flag("VITIWEB_MONITOR", True)
VITIWEB_METRICS_TOKEN = os.environ.get("VITIWEB_METRICS_TOKEN", "")
VITIWEB_METRICS_NETWORKS = env_list("VITIWEB_METRICS_NETWORKS") or ["127.0.0.0/8", "::1/128"]

# -- Hardening: limits on what comes in (README "Security") ------------------------------------------

# A request body larger than this is refused (413) before it is read: the ASGI app checks
# Content-Length and counts a streamed body (vitiweb.limits).
VITIWEB_MAX_REQUEST_BYTES = int(os.environ.get("VITIWEB_MAX_REQUEST_BYTES", str(4 * 1024 * 1024)))
# Django's own checks while it parses a body: form fields (files excluded), files kept in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 3 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 3 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
# The YAML reader's bounds (vitiweb.safeyaml.Limits: max_bytes, max_documents, max_depth, max_nodes,
# max_aliases); empty keeps its defaults.
VITIWEB_YAML_LIMITS: dict = {}
# Where bulk apply and the Secret form may create Secrets: patterns, the first match decides, "!" refuses.
VITIWEB_SECRET_NAMESPACES = env_list("VITIWEB_SECRET_NAMESPACES", "!kube-*,*")
# Hosts or networks a cluster's server or proxy may be at although loopback or link-local
# (e.g. "127.0.0.1" for a cluster on this machine); metadata services otherwise always refused.
VITIWEB_ALLOW_INTERNAL_ADDRESSES = env_list("VITIWEB_ALLOW_INTERNAL_ADDRESSES")

# Login throttling (django-axes) for /login/, /admin/login/ and anything else that authenticates
# with a password: after 5 failures for one user name from one address, 15 minutes of refusal.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("VITIWEB_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("VITIWEB_LOGIN_COOLOFF_MINUTES", "15")) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
LOGGING["loggers"]["axes"] = {"level": "WARNING"}  # not a line per successful login
