"""The template library: every HR user reads and previews, admins save new versions.

Templates scoped to another team (or its jobs) are invisible, like a missing one. Every POST
takes an `Idempotency-Key`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import CurrentAdmin, CurrentHR, RuntimeDep, SessionDep
from api.errors import HR_TOKEN, IDEMPOTENT_POST, ApiError, error_responses
from api.idempotent import IdempotentPostDep
from api.paging import DEFAULT_PAGE_SIZE, PageLimit
from candor.clock import utcnow
from candor.models.enums import Decision, Locale
from candor.outreach import queries, service
from candor.outreach.context import outreach_context
from candor.outreach.schemas import PreviewIn, PreviewOut, TemplateOut, TemplateVariableOut
from candor.outreach.templates import TemplateIn, TemplateSources, save_template
from candor.outreach.templating import TEMPLATE_VARIABLES

router = APIRouter(
    prefix="/api/v1/templates", tags=["templates"], responses=error_responses(HR_TOKEN)
)
NOT_FOUND = {404: "No such template or application in your teams"}
ADMIN_ONLY = {403: "Admins only (`forbidden`), or not an HR token"}
INVALID = {
    422: "Invalid body, or `invalid_template` / `template_render_failed`: `details` lists "
    "every problem"
}


@router.get(
    "", response_model=list[TemplateOut], summary="Current template versions, by key (paged)"
)
async def list_templates(
    session: SessionDep,
    principal: CurrentHR,
    outcome: Decision | None = None,
    locale: Locale | None = None,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    after_key: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="The last `key` of the previous page: the next page starts after it",
        ),
    ] = None,
) -> list[TemplateOut]:
    templates = await queries.list_templates(
        session, principal, outcome=outcome, locale=locale, limit=limit, after_key=after_key
    )
    return [TemplateOut.model_validate(t) for t in templates]


@router.get(
    "/variables",
    response_model=list[TemplateVariableOut],
    summary="The variables a template may use",
)
async def template_variables(_principal: CurrentHR) -> list[TemplateVariableOut]:
    return [
        TemplateVariableOut(name=name, description=description)
        for name, description in TEMPLATE_VARIABLES.items()
    ]


@router.get(
    "/{key}/versions",
    response_model=list[TemplateOut],
    responses=error_responses(NOT_FOUND),
    summary="The versions of one template, newest first (paged)",
)
async def template_versions(
    key: str,
    session: SessionDep,
    principal: CurrentHR,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    before_version: Annotated[
        int | None,
        Query(
            ge=1,
            le=2**31 - 1,
            description="The last `version` of the previous page: the next page is older",
        ),
    ] = None,
) -> list[TemplateOut]:
    versions = await queries.template_versions(
        session, principal, key, limit=limit, before_version=before_version
    )
    # An empty page past the last version is a page; only a template never seen is a 404.
    if not versions and (
        before_version is None
        or not await queries.template_versions(session, principal, key, limit=1)
    ):
        raise ApiError(404, "not_found", f"no template {key!r}")
    return [TemplateOut.model_validate(t) for t in versions]


@router.post(
    "",
    response_model=TemplateOut,
    responses=error_responses(
        IDEMPOTENT_POST,
        ADMIN_ONLY,
        INVALID,
        {
            409: "Another version was saved meanwhile (`template_conflict`), or the "
            "Idempotency-Key was used otherwise"
        },
    ),
    summary="Save a new version of a template (admin)",
)
async def save(
    data: TemplateIn,
    post: IdempotentPostDep,
    session: SessionDep,
    principal: CurrentAdmin,
) -> JSONResponse:
    async def action() -> Any:
        template = await save_template(session, data, actor=principal.actor)
        return TemplateOut.model_validate(template).model_dump(mode="json")

    return await post.run(data.model_dump(mode="json"), action)


@router.post(
    "/preview",
    response_model=PreviewOut,
    responses=error_responses(IDEMPOTENT_POST, NOT_FOUND, INVALID),
    summary="Render a template against a real application, writing nothing",
)
async def preview(
    body: PreviewIn,
    post: IdempotentPostDep,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentHR,
) -> JSONResponse:
    async def action() -> Any:
        application = await queries.visible_application(session, principal, body.application_code)
        if application is None:
            raise ApiError(404, "not_found", f"no application {body.application_code}")
        if body.template_id is not None:
            template = await queries.visible_template(session, principal, body.template_id)
            if template is None:
                raise ApiError(404, "not_found", f"no template {body.template_id}")
            sources, outcome = TemplateSources.of(template), template.outcome
        else:
            assert body.body is not None  # PreviewIn checks
            assert body.outcome is not None
            sources = TemplateSources(
                body.subject or "",
                body.body,
                body.wechat_fields,
                sms_template_code=body.sms_template_code,
                sms_params=body.sms_params,
                sms_preview_text=body.sms_preview_text,
            )
            outcome = body.outcome
        context = await outreach_context(session, runtime.settings)
        result = await service.preview_message(
            session, application, sources, outcome, context, now=utcnow()
        )
        return PreviewOut(
            template_id=body.template_id,
            application_code=application.code,
            outcome=outcome,
            subject=result.rendered.subject,
            body=result.rendered.body,
            wechat_data=result.rendered.wechat_data,
            sms_params=result.rendered.sms_params,
            sms_text=result.rendered.sms_text,
            sms_segments=result.sms_segments,
            variables=result.variables.as_variables(),
        ).model_dump(mode="json")

    return await post.run(body.model_dump(mode="json"), action)
