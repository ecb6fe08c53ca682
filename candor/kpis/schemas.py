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
    results_sent: int
    replied: int
    reply_rate: float | None
    conversations_started: int
    contained: int
    containment_rate: float | None
    handoffs: int
    csat_asked: int
    csat_rated: int
    csat_mean: float | None


class CsatOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    asked: int
    rated: int
    response_rate: float | None
    mean: float | None
    distribution: dict[int, int]


class SchedulingOut(BaseModel):
    """Self-scheduling (docs/kpis.md): time from invitation to booking, self-service share,
    reschedules and no-shows."""

    model_config = ConfigDict(from_attributes=True)

    invitations: int
    booked: int
    time_to_booking_median_hours: float | None
    time_to_booking_p90_hours: float | None
    booked_by_candidate: int
    self_service_share: float | None
    reschedules: int
    reschedules_by_candidate: int
    attendance_recorded: int
    no_shows: int
    no_show_rate: float | None


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
    drafts_needing_attention: int
    approvals: int
    approval_latency_median_hours: float | None
    approval_latency_p90_hours: float | None
    delivery: list[ChannelOut]
    funnel: dict[str, int]
    results_sent: int
    results_replied: int
    reply_rate: float | None
    conversations_started: int
    conversations_contained: int
    containment_rate: float | None
    handoffs: int
    handoffs_answered: int
    hr_first_response_median_hours: float | None
    hr_first_response_p90_hours: float | None
    csat: CsatOut
    csat_by_outcome: list[CsatOut]
    csat_by_promise: list[CsatOut]
    scheduling: SchedulingOut
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
    total: int  # records behind the figure; `rows` holds those from `offset`, at most `limit`
    offset: int
    limit: int
    rows: list[list[str]]
    message_ids: list[int | None]
