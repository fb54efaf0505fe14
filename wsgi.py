"""The WSGI entry point for production: `gunicorn wsgi:app`. A missing or invalid setting stops it with one line
naming the variable."""
import sys

from smscrm import create_app
from smscrm.errors import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    print(f"configuration: {exc.message}", file=sys.stderr)
    raise SystemExit(4) from None  # gunicorn's "App failed to load": it stops instead of booting workers again
