"""ASGI entry point for uvicorn, built from the environment's settings.

Run it as `uvicorn api.main:app --no-access-log`: `RequestLogMiddleware` logs each request,
masked, and uvicorn's access log would repeat it with the raw query string (logging set-up
drops those lines even without the flag).
"""

from api.app import create_app

app = create_app()
