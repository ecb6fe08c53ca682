"""The web-chat page's files (HTML, CSS, JS), served by `api/routers/webchat.py`."""
