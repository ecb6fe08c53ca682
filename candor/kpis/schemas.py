"""KPI API shapes."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from candor.models.enums import Channel


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    channel: Channel
    finished: int
    sent: int
    success_rate: float | None


class WeekOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    week: date
    completed: int
    in_time: int
    late: int
    pending: int
    timeliness_rate: float | None
    median_working_days: float | None
    applied: int


class FiguresOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    interviews_completed: int
    notified_in_time: int
    notified_late_or_missed: int
    pending_within_promise: int
    timeliness_rate: float | None
    time_to_feedback_median: float | None
    time_to_feedback_p90: float | None
    breaches_open: int
    approvals: int
    approval_latency_median_hours: float | None
    approval_latency_p90_hours: float | None
    delivery: list[ChannelOut]
    funnel: dict[str, int]
    weeks: list[WeekOut]


class TeamFiguresOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    team_id: int
    team_name: str
    figures: FiguresOut


class FiltersOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    start: date
    end: date
    team_ids: list[int]
    recruiter_id: int | None
    job_id: int | None


class KpiReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    filters: FiltersOut
    generated_at: datetime
    promise_working_days: int
    figures: FiguresOut
    teams: list[TeamFiguresOut]


class RecordsOut(BaseModel):
    title: str
    columns: list[str]
    rows: list[list[str]]
    message_ids: list[int | None]
