"""tests/test_stories.yml, every story, on the embedded engine through the real gateway
(on SQLite + fakeredis and on PostgreSQL + Redis). The ATS data each story talks about comes
from the outreach world's factories: a candidate who finished the AI interview, with a
bound web-chat account."""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation import ConversationGateway
from candor.dialogue.stories import E2EStory, load_test_stories
from nlu.project import RasaProject
from tests.dialogue_world import actions_of, bound_chat
from tests.outreach_world import World

STORIES = load_test_stories(RasaProject.default().test_stories_path)


def test_the_file_has_stories() -> None:
    assert len(STORIES) >= 5


def _span(text: str, entity: dict[str, Any]) -> str:
    return text[int(entity["start"]) : int(entity["end"])]


def _user_event(events: list[dict[str, Any]]) -> dict[str, Any]:
    return next(e for e in events if e.get("event") == "user")


@pytest.mark.parametrize("story", STORIES, ids=[s.name for s in STORIES])
async def test_story(world: World, gateway: ConversationGateway, story: E2EStory) -> None:
    chat = await bound_chat(world, gateway, 1)
    for number, turn in enumerate(story.turns, start=1):
        where = f"{story.name!r}, turn {number} ({turn.text!r})"
        await chat.say(turn.text)
        events = await chat.new_events()
        parse = _user_event(events)["parse_data"]
        if turn.intent is not None:
            assert parse["intent"]["name"] == turn.intent, where
        found = {
            (e["entity"], text)
            for e in parse["entities"]
            for text in (e["value"], _span(turn.text, e))
        }
        for entity in turn.entities:
            # Rasa's markup names the surface text; synonyms may map it to a canonical value.
            assert {(entity.entity, entity.value), (entity.entity, entity.surface)} & found, where
        assert actions_of(events) == turn.actions, where
        loops = [e.get("name") for e in events if e.get("event") == "active_loop"]
        for loop in turn.active_loops:
            assert loop in loops, where
        slots = {e["name"]: e.get("value") for e in events if e.get("event") == "slot"}
        for slot, value in turn.slots.items():
            assert slots.get(slot) == value, where
