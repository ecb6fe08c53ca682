"""Reading a message in context: the rules alone, then through the real engine."""

from __future__ import annotations

from typing import Any

from bot.conversation import ConversationGateway
from candor.dialogue.context import BotContext, offered_intents, settle
from candor.models import CsatRating
from candor.models.enums import Decision
from nlu.entities import Entity
from nlu.model import IntentScore, ParseResult
from nlu.project import FALLBACK_INTENT
from tests.dialogue_world import actions_of, bound_chat, result_sent
from tests.outreach_world import World


def unsure(
    text: str, *ranking: tuple[str, float], entities: tuple[Entity, ...] = ()
) -> ParseResult:
    fallback = IntentScore(FALLBACK_INTENT, 0.65)
    scores = tuple(IntentScore(name, confidence) for name, confidence in ranking)
    return ParseResult(text, fallback, entities, (fallback, *scores))


def test_an_offered_intent_among_the_two_likeliest_settles_an_unsure_reading() -> None:
    parse = unsure("好嘞", ("greet", 0.4), ("affirm", 0.35))
    settled = settle(parse, BotContext(frozenset({"affirm", "deny"})))
    assert settled.intent.name == "affirm"


def test_a_clear_reading_of_something_else_is_left_alone() -> None:
    clear = ParseResult("我要转人工", IntentScore("human_handoff", 0.97), (), ())
    assert settle(clear, BotContext(frozenset({"affirm", "deny"}))) is clear


def test_a_rating_is_the_answer_to_the_rating_question() -> None:
    rating = (Entity("rating", "4", 0, 1),)
    parse = ParseResult("4", IntentScore("affirm", 0.8), rating, (IntentScore("affirm", 0.8),))
    settled = settle(parse, BotContext(frozenset({"rate_experience"})))
    assert settled.intent.name == "rate_experience"
    assert settled.entities == rating
    assert settle(parse, BotContext(frozenset())) is parse  # nobody asked for a rating


def test_an_unsure_why_after_a_rejection_asks_for_feedback() -> None:
    parse = unsure("啊？为啥", ("complain", 0.4), ("ask_feedback", 0.38))
    assert settle(parse, BotContext(frozenset(), Decision.REJECT)).intent.name == "ask_feedback"
    assert settle(parse, BotContext(frozenset(), Decision.ADVANCE)) is parse
    assert settle(parse, BotContext(frozenset())) is parse


def test_offered_intents_are_those_of_the_bots_last_turn_only() -> None:
    events: list[dict[str, Any]] = [
        {"event": "bot", "text": "old", "data": {"buttons": [{"payload": "/withdraw"}]}},
        {"event": "user", "text": "x"},
        {"event": "bot", "text": "sure?", "data": {"buttons": [{"payload": "/affirm"}]}},
        {"event": "bot", "text": "", "data": {"buttons": [{"payload": '/deny{"a": "b"}'}]}},
    ]
    assert offered_intents(events) == {"affirm", "deny"}


async def test_why_right_after_a_rejection_is_answered_with_the_feedback(
    world: World, unsure_gateway: ConversationGateway
) -> None:
    # A threshold nothing reaches: without the context, "为什么" gets a clarifying question.
    chat = await bound_chat(world, unsure_gateway, 1)
    await chat.say("为什么")
    assert actions_of(await chat.new_events()) == ["action_clarify_intent"]

    await result_sent(world, 1, "reject")
    await chat.say("为什么")
    assert actions_of(await chat.new_events()) == ["action_explain_feedback"]


async def test_a_number_after_the_rating_question_is_a_rating(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await result_sent(world, 1, "reject")
    asked = await chat.say("为什么没过呀，能说下原因不")
    assert [b.title for b in asked[-1].buttons] == ["1", "2", "3", "4", "5"]
    await chat.new_events()
    await chat.say("4")
    assert actions_of(await chat.new_events()) == ["action_rate_experience"]
    async with world.runtime.sessionmaker() as session:
        from sqlalchemy import select

        ratings = (await session.scalars(select(CsatRating.rating))).all()
    assert list(ratings) == [4]


async def test_ok_after_the_withdrawal_question_confirms_it(
    world: World, gateway: ConversationGateway
) -> None:
    from candor.models.enums import ApplicationStatus

    chat = await bound_chat(world, gateway, 1)
    await chat.say("我已经接了别家的offer，这个不去了")
    assert actions_of(await chat.new_events()) == ["utter_confirm_withdraw"]
    await chat.say("好")
    assert actions_of(await chat.new_events()) == ["action_withdraw"]
    assert (await world.application(1)).status is ApplicationStatus.WITHDRAWN
