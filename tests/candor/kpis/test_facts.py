"""The KPI facts follow every write to the records, whatever the write path, and equal
their definitions; `rebuild` recomputes them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, func, insert, select, update

from candor.kpis import facts
from candor.models import (
    Application,
    ChatMessage,
    Handoff,
    InterviewFacts,
    OutreachMessage,
    ReplyFacts,
)
from candor.models.chat import Direction
from candor.models.enums import Channel
from candor.models.kpis import ApplicationFacts, ConversationFacts
from candor.runtime import Runtime
from tests.candor.kpis.history import History, local, report


async def test_the_kept_facts_equal_their_definitions(runtime: Runtime, history: History) -> None:
    async with runtime.sessionmaker() as session:
        assert set((await facts.differences(session)).values()) == {0}
        interviews = await session.scalar(select(func.count()).select_from(InterviewFacts))
    assert interviews == 6


async def test_core_writes_and_deletes_keep_the_facts(runtime: Runtime, history: History) -> None:
    """Statements that bypass the ORM (as the dispatcher and the transcript use) count too."""
    async with runtime.transaction() as session:
        app3 = await session.scalar(
            select(Application.id).where(Application.code == history.codes[3])
        )
        # #3's pending result goes out on 03-10, in time; its candidate answers the next day.
        await session.execute(
            update(OutreachMessage)
            .where(OutreachMessage.application_id == app3)
            .values(sent_at=local("03-10"))
        )
        candidate = await session.scalar(
            select(Application.candidate_id).where(Application.id == app3)
        )
        conversation = history.conversations["C3"]
        await session.execute(
            insert(ChatMessage).values(
                conversation_id=conversation,
                candidate_id=candidate,
                direction=Direction.INBOUND,
                channel=Channel.WECHAT,
                text="谢谢",
                at=local("03-11"),
            )
        )
        # C2's only hand-off is deleted: the bot handled C2 alone after all.
        await session.execute(
            delete(Handoff).where(Handoff.conversation_id == history.conversations["C2"])
        )

    figures = (await report(runtime, history.filters())).figures
    assert (figures.notified_in_time, figures.notified_late_or_missed) == (4, 1)
    assert figures.funnel["result_sent"] == 4
    assert (figures.results_sent, figures.results_replied) == (5, 4)
    assert (figures.conversations_started, figures.conversations_contained) == (6, 3)
    assert figures.handoffs == 2
    async with runtime.sessionmaker() as session:
        assert set((await facts.differences(session)).values()) == {0}
        replied = await session.scalar(
            select(ReplyFacts.replied).where(ReplyFacts.application_id == app3)
        )
    assert replied


async def test_a_moved_application_moves_its_facts(runtime: Runtime, history: History) -> None:
    async with runtime.transaction() as session:
        await session.execute(
            update(Application)
            .where(Application.code == history.codes[2])
            .values(job_id=history.job_b.id)
        )

    by_job = (await report(runtime, history.filters(job_id=history.job_b.id))).figures
    assert by_job.interviews_completed == 3  # #4, #5 and now #2
    assert by_job.results_sent == 2
    assert by_job.conversations_started == 2  # C2 follows its candidate's latest application
    async with runtime.sessionmaker() as session:
        assert set((await facts.differences(session)).values()) == {0}


async def test_rebuild_recomputes_lost_facts(runtime: Runtime, history: History) -> None:
    before = (await report(runtime, history.filters())).figures
    async with runtime.transaction() as session:
        await session.execute(delete(ApplicationFacts))
        await session.execute(delete(ConversationFacts))
        await session.execute(update(InterviewFacts).values(completed_on=date(2025, 12, 31)))
        assert set((await facts.differences(session)).values()) != {0}
        rebuilt = {done.table: done.rows for done in await facts.rebuild(session)}

    assert rebuilt["kpi_interview_facts"] == 6
    assert rebuilt["kpi_application_facts"] == 8
    assert rebuilt["kpi_conversation_facts"] == 7  # bound ones, C8 included; not U
    assert (await report(runtime, history.filters())).figures == before
