"""`/b/<token>`: the booking link an advance result carries on e-mail, SMS and WeChat.

The link opens the web chat bound to the invitation's application and starts booking: the
route mints a single-use web-chat binding token (as `candor bind-link` does) and redirects
to `/chat?bind=...&start=book`; the page redeems the binding, then asks to book. An unknown
token and a closed invitation get the same page, 404, naming nothing.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import RuntimeDep
from candor.clock import utcnow
from candor.scheduling.invitations import LINK_PATH, binding_for_link

router = APIRouter(tags=["channels"])

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the redirect carries a binding token
    "X-Content-Type-Options": "nosniff",
}
NOT_VALID_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>链接已失效 / Link no longer valid</title></head>
<body>
<h1>链接已失效</h1>
<p>这个面试预约链接无效或已关闭。如需帮助，请直接回复我们发给您的消息。</p>
<h1 lang="en">This link is no longer valid</h1>
<p lang="en">This interview booking link is unknown or closed. If you need help, reply to
the message we sent you.</p>
</body></html>
"""


@router.get(LINK_PATH + "{token}", include_in_schema=False)
async def booking_link(token: str, runtime: RuntimeDep) -> Response:
    async with runtime.transaction() as session:
        issued = await binding_for_link(session, token, now=utcnow())
    if issued is None:
        return HTMLResponse(NOT_VALID_PAGE, status_code=404, headers=HEADERS)
    query = urlencode({"bind": issued.plaintext, "start": "book"})
    return RedirectResponse(f"/chat?{query}", status_code=303, headers=HEADERS)
