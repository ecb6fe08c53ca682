"""A candidate's data-export link (docs/privacy.md): the page the chat's link opens, and the
download it offers, once.

The page (GET) only looks: chat apps fetch a link to preview it, and that must not use it
up. The download is the page's button (POST), which takes the copy; a second download, or
one after the link expired, is refused with 410 and a stable code (`export_link_used`,
`export_link_expired`), an unknown link with 404 (`export_link_unknown`); never the data.
The link's token is the only credential: no session, no cookie.
"""

from __future__ import annotations

import json
from html import escape
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import SessionDep
from api.errors import error_body, error_responses, localised_message
from candor.clock import BUSINESS_TZ, utcnow
from candor.privacy import service
from candor.privacy.links import DOWNLOAD_PATH
from candor.privacy.service import ExportLinkError

router = APIRouter(tags=["privacy"])

Token = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16,64}$", max_length=64)]
# The page's address carries the token: it is sent nowhere else, kept in no cache.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>个人数据副本 · Your data</title>
<style>body{{font:16px/1.6 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head>
<body>{body}</body></html>"""
_READY = """<h1>个人数据副本 · A copy of your data</h1>
<p>点击下方按钮下载（JSON 文件）。此链接只能下载一次，{expires}前有效。</p>
<p lang="en">Download it with the button below (a JSON file). The link works once, until
{expires_en}.</p>
<form method="post"><button type="submit" id="download">下载 · Download</button></form>"""
_REFUSED = {
    "export_link_used": (
        "此下载链接已经使用过，无法再次下载。如需新的副本，请在聊天中发送「导出我的数据」。",
        'This link was used already. For a new copy, send "export my data" in the chat.',
    ),
    "export_link_expired": (
        "此下载链接已过期。如需新的副本，请在聊天中发送「导出我的数据」。",
        'This link has expired. For a new copy, send "export my data" in the chat.',
    ),
    "export_link_unknown": (
        "找不到此下载链接，请检查链接是否完整。",
        "This link is not known; check that it is complete.",
    ),
}


def _client(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


def _refusal_page(refused: ExportLinkError) -> HTMLResponse:
    zh, en = _REFUSED[refused.code]
    body = f'<h1>无法下载 · Not available</h1><p id="refused" data-code="{refused.code}">{zh}</p>'
    body += f'<p lang="en">{en}</p>'
    return HTMLResponse(_PAGE.format(body=body), status_code=refused.http_status, headers=HEADERS)


@router.get(f"{DOWNLOAD_PATH}{{token}}", include_in_schema=False)
async def export_page(token: Token, request: Request, session: SessionDep) -> Response:
    state = await service.check_link(session, token, now=utcnow())
    if isinstance(state, ExportLinkError):
        return _refusal_page(state)
    local = state.expires_at.astimezone(BUSINESS_TZ)
    body = _READY.format(
        expires=escape(local.strftime("%Y-%m-%d %H:%M")),
        expires_en=escape(local.strftime("%Y-%m-%d %H:%M (China time)")),
    )
    return HTMLResponse(_PAGE.format(body=body), headers=HEADERS)


@router.post(
    f"{DOWNLOAD_PATH}{{token}}",
    summary="Download a candidate's copy of their data, once (the link from the chat)",
    description=(
        "The JSON copy behind a single-use, expiring link a candidate asked for in chat "
        "(docs/privacy.md has its fields). No token or session: the link is the credential."
    ),
    responses={
        200: {"description": "The copy, as a JSON attachment", "content": {"application/json": {}}},
        **error_responses(
            {
                404: "No such link (`export_link_unknown`)",
                410: "The link was used (`export_link_used`) or expired (`export_link_expired`)",
                422: "Not a link's token (`invalid_request`)",
            }
        ),
    },
)
async def download_export(token: Token, request: Request, session: SessionDep) -> Response:
    taken = await service.take(session, token, client=_client(request), now=utcnow())
    if isinstance(taken, ExportLinkError):
        # Answered, not raised: the refusal's audit row commits with the request.
        if "text/html" in request.headers.get("accept", ""):
            return _refusal_page(taken)
        return JSONResponse(
            error_body(taken.code, localised_message(request, taken.code, taken.message)),
            status_code=taken.http_status,
            headers=HEADERS,
        )
    day = utcnow().astimezone(BUSINESS_TZ).strftime("%Y%m%d")
    return Response(
        json.dumps(taken, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            **HEADERS,
            "Content-Disposition": f'attachment; filename="my-data-{day}.json"',
        },
    )
