"""The merchant web app (blueprints are registered here)."""
from flask import Flask


def init_app(app: Flask) -> None:
    pass
