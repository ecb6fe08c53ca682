"""The template editor: versions, live preview against a real application, inline errors.

Reading and previewing is for every HR user (within their teams, as in the API); saving a
new version is for admins. Validation, preview and saving are the templates service's.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.console.deps import (
    CheckedForm,
    ConsoleHTTPError,
    ConsoleUser,
    CurrentConsoleUser,
    form_text,
    form_textarea,
    not_found,
)
from api.console.i18n import _
from api.console.rendering import page
from api.deps import RuntimeDep, SessionDep
from candor.clock import utcnow
from candor.models.outreach import MessageTemplate
from candor.outreach import queries, service, sms_form
from candor.outreach.context import outreach_context
from candor.outreach.errors import TemplateVersionConflictError
from candor.outreach.templates import TemplateIn, TemplateSources, save_template
from candor.outreach.templating import (
    TEMPLATE_VARIABLES,
    TemplateRenderError,
    TemplateValidationError,
    template_problems,
)

router = APIRouter(prefix="/console/templates", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
async def template_list(
    request: Request, user: CurrentConsoleUser, session: SessionDep
) -> Response:
    templates = await queries.list_templates(session, user.principal)
    return page(request, "templates.html", user, active="templates", templates=templates)


def _sources(form: FormData, current: MessageTemplate) -> TemplateSources:
    wechat = {
        name: form_text(form, f"wechat.{name}")
        for name in current.wechat_fields
        if form.get(f"wechat.{name}") is not None
    }
    # The SMS form as posted; a form without its fields keeps the version's.
    sms_code = form_text(form, "sms_template_code", default=current.sms_template_code or "")
    sms_preview = form_textarea(form, "sms_preview_text", default=current.sms_preview_text or "")
    return TemplateSources(
        subject=form_text(form, "subject", default=current.subject),
        body=form_textarea(form, "body", default=current.body),
        wechat_fields=wechat or dict(current.wechat_fields),
        sms_template_code=sms_code.strip() or None,
        sms_params=sms_form.parse_lines(
            form_textarea(form, "sms_params", default=sms_form.as_lines(current.sms_params))
        ),
        sms_preview_text=sms_preview.strip() or None,
    )


async def _versions(
    session: SessionDep, user: ConsoleUser, key: str
) -> tuple[list[MessageTemplate], MessageTemplate]:
    """The template's versions and the current one (the first listed if none is marked)."""
    versions = await queries.template_versions(session, user.principal, key)
    if not versions:
        raise not_found(_("template %(id)r", id=key))
    return versions, next((v for v in versions if v.is_current), versions[0])


async def _default_application(session: SessionDep, user: ConsoleUser) -> str:
    """The newest application the user can see, so a preview needs no typing."""
    return await queries.newest_application_code(session, user.principal) or ""


async def _preview(
    session: SessionDep,
    runtime: RuntimeDep,
    user: ConsoleUser,
    template: MessageTemplate,
    sources: TemplateSources,
    application_code: str,
) -> dict[str, object]:
    """The preview's context: the rendered message, or the problems to show inline."""
    problems = await asyncio.to_thread(template_problems, sources.as_fields())
    problems += sources.sms_problems()
    if problems:
        return {"problems": problems, "rendered": None}
    application = await queries.visible_application(session, user.principal, application_code)
    if application is None:
        return {
            "problems": [f"application: no application {application_code!r} in your teams"],
            "rendered": None,
        }
    context = await outreach_context(session, runtime.settings)
    try:
        result = await service.preview_message(
            session, application, sources, template.outcome, context, now=utcnow()
        )
    except TemplateValidationError as exc:
        return {"problems": exc.problems, "rendered": None}
    except TemplateRenderError as exc:
        return {"problems": [_("the template did not render: %(why)s", why=exc)], "rendered": None}
    return {"problems": [], "rendered": result.rendered, "sms_segments": result.sms_segments}


async def _editor(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: ConsoleUser,
    key: str,
    *,
    version: int | None = None,
    form: FormData | None = None,
    application_code: str | None = None,
    save_problems: list[str] | None = None,
    saved: int | None = None,
    status_code: int = 200,
) -> Response:
    versions, current = await _versions(session, user, key)
    shown = next((v for v in versions if v.version == version), current) if version else current
    sources = _sources(form, shown) if form is not None else TemplateSources.of(shown)
    code = application_code or await _default_application(session, user)
    preview = await _preview(session, runtime, user, shown, sources, code)
    if form is not None and preview["problems"]:
        status_code = 422  # the sources just submitted cannot be used as written
    return page(
        request,
        "template_editor.html",
        user,
        status_code=status_code,
        active="templates",
        key=key,
        versions=versions,
        shown=shown,
        current=current,
        sources=sources,
        application_code=code,
        preview=preview,
        save_problems=save_problems or [],
        saved=saved,
        variables=TEMPLATE_VARIABLES,
        sms_params_lines=sms_form.as_lines(sources.sms_params),
    )


@router.get("/{key}", response_class=HTMLResponse)
async def editor(
    key: str,
    request: Request,
    user: CurrentConsoleUser,
    session: SessionDep,
    runtime: RuntimeDep,
    version: int | None = None,
    application: str | None = None,
    saved: int | None = None,
) -> Response:
    return await _editor(
        request,
        session,
        runtime,
        user,
        key,
        version=version,
        application_code=application,
        saved=saved,
    )


@router.post("/{key}/preview", response_class=HTMLResponse)
async def preview(
    key: str,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """The editor with a preview of the unsaved sources; only the preview panel for the
    editor's live preview (`X-Fragment: 1`)."""
    _versions_shown, current = await _versions(session, user, key)
    code = form_text(form, "application_code").strip()
    if request.headers.get("X-Fragment") != "1":
        return await _editor(request, session, runtime, user, key, form=form, application_code=code)
    result = await _preview(session, runtime, user, current, _sources(form, current), code)
    return page(
        request,
        "_preview.html",
        user,
        status_code=422 if result["problems"] else 200,
        preview=result,
        application_code=code,
    )


@router.post("/{key}")
async def save(
    key: str,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    _versions_shown, current = await _versions(session, user, key)
    if not user.principal.is_admin:
        raise ConsoleHTTPError(403, _("only an admin may save templates"))
    sources = _sources(form, current)
    code = form_text(form, "application_code").strip()
    try:
        data = TemplateIn(
            key=key,
            outcome=current.outcome,
            locale=current.locale,
            subject=sources.subject,
            body=sources.body,
            wechat_template_id=current.wechat_template_id,
            wechat_fields=dict(sources.wechat_fields),
            sms_template_code=sources.sms_template_code,
            sms_params=dict(sources.sms_params),
            sms_preview_text=sources.sms_preview_text,
            team_id=current.team_id,
            job_id=current.job_id,
        )
        template = await save_template(session, data, actor=user.actor)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    except TemplateValidationError as exc:
        problems = exc.problems
    except TemplateVersionConflictError as exc:
        problems = [str(exc)]
    else:
        return RedirectResponse(
            f"/console/templates/{key}?saved={template.version}", status_code=303
        )
    return await _editor(
        request,
        session,
        runtime,
        user,
        key,
        form=form,
        application_code=code,
        save_problems=problems,
        status_code=422,
    )
