"""ASGI entry point for uvicorn: ``uvicorn api.main:app``."""

from api.app import create_app
from api.observability import configure_logging

configure_logging()
app = create_app()
