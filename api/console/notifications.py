"""The logged-in HR user's own page: binding WeCom (and Telegram) for approvals in chat."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.deps import CheckedForm, ConsoleHTTPError, CurrentConsoleUser, form_text
from api.console.i18n import _
from api.console.rendering import page
from api.deps import RedisDep, RuntimeDep, SessionDep
from candor.hr_chat import binding
from candor.models.enums import HrChatPlatform
from candor.settings import Settings

router = APIRouter(prefix="/console/me", include_in_schema=False)


def _platforms(settings: Settings) -> list[HrChatPlatform]:
    """The platforms this deployment can bind (the ones configured)."""
    platforms = [HrChatPlatform.WECOM] if settings.wecom_enabled else []
    if settings.telegram_bot_token is not None:
        platforms.append(HrChatPlatform.TELEGRAM)
    return platforms


def _platform(form_value: str, settings: Settings) -> HrChatPlatform:
    for platform in _platforms(settings):
        if platform.value == form_value:
            return platform
    raise ConsoleHTTPError(422, _("that chat platform is not configured here"))


async def _page(
    request: Request,
    user: CurrentConsoleUser,
    session: SessionDep,
    runtime: RuntimeDep,
    *,
    code: str | None = None,
    code_platform: HrChatPlatform | None = None,
    done: str | None = None,
) -> HTMLResponse:
    accounts = await binding.accounts_of(session, user.principal.user_id)
    return page(
        request,
        "notifications.html",
        user,
        active="me",
        platforms=_platforms(runtime.settings),
        accounts=accounts,
        code=code,
        code_platform=code_platform,
        code_minutes=int(binding.CODE_TTL.total_seconds() // 60),
        bot_username=runtime.settings.telegram_bot_username,
        done=done,
    )


@router.get("/notifications", response_class=HTMLResponse)
async def notifications(
    request: Request,
    user: CurrentConsoleUser,
    session: SessionDep,
    runtime: RuntimeDep,
    done: str | None = None,
) -> Response:
    return await _page(request, user, session, runtime, done=done if done in ("unbound",) else None)


@router.post("/notifications/bind", response_class=HTMLResponse)
async def bind(
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
    redis: RedisDep,
) -> Response:
    # The code is shown on this response only (never in a URL); Redis keeps its hash.
    platform = _platform(form_text(form, "platform"), runtime.settings)
    code = await binding.new_code(redis, user.principal.user_id, platform)
    return await _page(request, user, session, runtime, code=code, code_platform=platform)


@router.post("/notifications/unbind")
async def unbind(
    user: CurrentConsoleUser, form: CheckedForm, session: SessionDep, runtime: RuntimeDep
) -> Response:
    platform = _platform(form_text(form, "platform"), runtime.settings)
    await binding.unbind(session, user.principal.user_id, platform, actor=user.actor)
    return RedirectResponse("/console/me/notifications?done=unbound", status_code=303)
