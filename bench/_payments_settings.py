"""Bench-only settings: the real settings plus a bare ceiling view (see _payments_urls)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench._payments_urls"
