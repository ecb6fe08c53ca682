"""Reference data every installation needs, loaded at start-up when it is missing."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError

from candor.logging import get_logger
from candor.outreach.errors import TemplateVersionConflictError
from candor.outreach.templates import load_default_templates
from candor.runtime import Runtime

log = get_logger(__name__)


async def ensure_reference_data(runtime: Runtime) -> None:
    """Load the shipped message templates whose keys the database does not have yet.

    Several processes may start at once; the loser of that race hits the (key, version)
    unique constraint, and the winner's templates are exactly what it would have written.
    """
    try:
        async with runtime.transaction() as session:
            loaded = await load_default_templates(session)
    except (IntegrityError, TemplateVersionConflictError):
        log.info("bootstrap.templates_loaded_elsewhere")
        return
    except (OSError, DBAPIError) as exc:
        # Start anyway: /readyz reports the database, and drafting answers 503 until the
        # templates are there, which ATS systems retry.
        log.error("bootstrap.database_unavailable", error=repr(exc))
        return
    if loaded:
        log.info("bootstrap.templates_loaded", keys=[t.key for t in loaded])
