"""The WSGI entry point for production: `gunicorn wsgi:app`."""
from smscrm import create_app

app = create_app()
