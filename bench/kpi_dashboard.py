"""Benchmark the response KPIs on a large history: `GET /api/v1/kpis` and the dashboard.

    .venv/bin/python bench/kpi_dashboard.py                          # 1,000,000 applications
    .venv/bin/python bench/kpi_dashboard.py --applications 100000 --requests 10

Generates, inside a PostgreSQL database created for the run (and dropped afterwards), a
company of 10 teams, 500 jobs and `--applications` applications spread over `--days` days,
each with a completed AI interview (90 %) and `--messages` result messages in all (several
result versions per application, the older ones superseded; the latest is sent for 85 %
of them, in time or late, rejected by HR for the rest, or still pending when recent), one
delivery per sent message (95 % delivered), and HR decisions on 60 % of the sent ones; and
the chat side: 60 % of the candidates have a conversation with about `--chat-messages`
messages in all, 5 % of the conversations are handed off (90 % answered by HR), 3 % have an
HR task, 2 % a question drafted for HR, and every sent result of a chatting candidate gets
the satisfaction question (40 % answered). The data is written by SQL (`generate_series`)
with the KPI facts' triggers off, then the facts are backfilled as `candor kpis rebuild`
does: the benchmark measures reading them. Then it serves the app in-process and times, for
the last `--window` days, `GET /api/v1/kpis` (admin: every team; and a recruiter: one team)
and the dashboard page `GET /console/kpis`, printing p50 and p95 of `--requests` requests
after two warm-ups.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import timedelta

import httpx
from asgi_lifespan import LifespanManager
from services import postgres_database
from sqlalchemy import text

from api.app import create_app
from api.console.deps import SESSION_COOKIE
from candor.auth.sessions import create_session
from candor.auth.tokens import Scope, issue_token
from candor.clock import BUSINESS_TZ, utcnow
from candor.db.migrate import upgrade
from candor.kpis import facts
from candor.runtime import Runtime
from candor.settings import Settings

TEAMS = 10
JOBS = 500
RECRUITERS_PER_TEAM = 3

GENERATE = [
    (  # Only module constants are interpolated.
        "teams and HR users",
        f"""
        INSERT INTO teams (external_id, name, created_at, updated_at)
        SELECT 'bt' || g, '团队 ' || g, now(), now() FROM generate_series(1, {TEAMS}) g;
        INSERT INTO hr_users (email, display_name, role, is_active, created_at, updated_at)
        SELECT 'r' || g || '@bench.example', '招聘 ' || g, 'recruiter', true, now(), now()
        FROM generate_series(1, {TEAMS * RECRUITERS_PER_TEAM}) g;
        INSERT INTO hr_users (email, display_name, role, is_active, created_at, updated_at)
        VALUES ('admin@bench.example', '管理员', 'admin', true, now(), now());
        INSERT INTO team_memberships (team_id, user_id)
        SELECT t.id, u.id FROM hr_users u JOIN teams t
          ON t.external_id = 'bt' || (1 + (u.id - 1) % {TEAMS})
        WHERE u.role = 'recruiter';
        INSERT INTO jobs (external_id, team_id, title, status, recruiter_id, created_at, updated_at)
        SELECT 'bj' || g, t.id, '岗位 ' || g, 'open', m.user_id, now(), now()
        FROM generate_series(1, {JOBS}) g
        JOIN teams t ON t.external_id = 'bt' || (1 + g % {TEAMS})
        JOIN LATERAL (SELECT user_id FROM team_memberships WHERE team_id = t.id
                      ORDER BY user_id LIMIT 1) m ON true;
        """,  # noqa: S608
    ),
    (
        "candidates",
        """
        INSERT INTO candidates (external_id, name, email, locale, consent_contact,
            consent_talent_pool, consent_wechat_subscription, preferred_channels,
            created_at, updated_at)
        SELECT 'bc' || g, '候选人' || g, 'c' || g || '@bench.example', 'zh-CN', true, false,
            false, '["wechat", "email"]'::jsonb, now(), now()
        FROM generate_series(1::bigint, :applications) g;
        """,
    ),
    (
        "applications",
        """
        INSERT INTO applications (code, external_id, candidate_id, job_id, stage, status,
            applied_at, result_version, created_at, updated_at)
        SELECT 'AP-B-' || lpad(g::text, 9, '0'), 'ba' || g, c.id,
            (SELECT min(id) FROM jobs) + (g * 7919) % :jobs,
            (ARRAY['applied', 'ai_interview', 'ai_interview', 'ai_interview',
                   'phone_interview', 'onsite_interview', 'offer', 'hired'])[1 + (g * 31) % 8],
            'active',
            now() - (g * 104729 % (:days * 86400)) * interval '1 second',
            :versions, now(), now()
        FROM generate_series(1::bigint, :applications) g
        JOIN candidates c ON c.external_id = 'bc' || g;
        """,
    ),
    (
        "interviews",
        """
        INSERT INTO interviews (external_id, application_id, kind, round, completed_at,
            score, strengths, improvements, created_at, updated_at)
        SELECT 'bi' || a.id, a.id, 'ai_video', 1,
            a.applied_at + (24 + (a.id * 13) % 96) * interval '1 hour',
            50 + (a.id % 50), '[]'::jsonb, '[]'::jsonb, now(), now()
        FROM applications a
        WHERE a.id % 10 <> 0;
        """,
    ),
    (
        "result messages",
        """
        INSERT INTO outreach_messages (application_id, interview_id, result_version, outcome,
            template_id, state, subject, body, wechat_data, interview_completed_at, due_at,
            due_estimated, decided_by, decided_at, channel, sent_at, created_at, updated_at)
        SELECT i.application_id, i.id, v.v, 'reject', :template_id,
            CASE WHEN v.v < :versions THEN 'rejected'
                 WHEN i.id % 20 < 17 THEN 'sent'
                 WHEN i.completed_at > now() - interval '14 days' THEN 'pending_approval'
                 ELSE 'rejected' END,
            '面试结果', '正文', '{}'::jsonb, i.completed_at,
            date_trunc('day', (i.completed_at AT TIME ZONE 'Asia/Shanghai'))
                AT TIME ZONE 'Asia/Shanghai' + interval '7 days' - interval '1 second',
            false,
            CASE WHEN v.v < :versions THEN 'system:drafting'
                 WHEN i.id % 20 >= 17 AND i.completed_at > now() - interval '14 days' THEN NULL
                 WHEN i.id % 5 < 3 OR i.id % 20 >= 17 THEN 'user:' || (2 + i.id % 30)
                 ELSE 'system:auto-approval' END,
            CASE WHEN v.v < :versions OR i.id % 20 < 17
                      OR i.completed_at <= now() - interval '14 days'
                 THEN i.completed_at + (20 + (i.id * 7) % 72) * interval '1 hour'
                      + (i.id * 37) % 3600 * interval '1 second' END,
            CASE WHEN v.v = :versions AND i.id % 20 < 17 THEN 'wechat' END,
            CASE WHEN v.v = :versions AND i.id % 20 < 17
                 THEN i.completed_at + (20 + (i.id * 7) % 72 + (i.id * 11) % 128)
                      * interval '1 hour' END,
            i.completed_at + (18) * interval '1 hour', now()
        FROM interviews i
        CROSS JOIN generate_series(1, :versions) v(v)
        WHERE i.external_id LIKE 'bi%';
        """,
    ),
    (
        "deliveries",
        """
        INSERT INTO outbox (message_id, channel, idempotency_key, state, attempts,
            next_attempt_at, sent_at, ambiguous, created_at, updated_at)
        SELECT m.id, (ARRAY['wechat', 'telegram', 'email'])[1 + m.id % 3],
            'b:' || m.id, CASE WHEN m.id % 20 = 0 THEN 'permanent_failure' ELSE 'sent' END,
            1, m.decided_at, m.sent_at, false, m.decided_at, now()
        FROM outreach_messages m WHERE m.sent_at IS NOT NULL;
        """,
    ),
    (
        "chat accounts",
        # 60 % of the candidates chat: one bound account and conversation each, started
        # a few hours after applying.
        """
        INSERT INTO chat_identities (channel, external_user_id, candidate_id, bound_at,
            created_at, updated_at)
        SELECT (ARRAY['wechat', 'telegram', 'web'])[1 + a.candidate_id % 3],
            'bx' || a.candidate_id, a.candidate_id, a.applied_at + interval '2 hours',
            now(), now()
        FROM applications a WHERE a.candidate_id % 5 < 3;
        INSERT INTO conversations (chat_identity_id, channel, candidate_id, started_at,
            last_message_at)
        SELECT ci.id, ci.channel, ci.candidate_id, ci.bound_at, ci.bound_at
        FROM chat_identities ci WHERE ci.external_user_id LIKE 'bx%';
        """,
    ),
    (
        "chat messages",
        # :per_conversation messages each, alternating candidate and bot, 9 to 40 hours
        # apart: many candidates write within a week of their result, some later.
        """
        INSERT INTO chat_messages (conversation_id, candidate_id, direction, channel, text,
            author, at)
        SELECT c.id, c.candidate_id,
            CASE WHEN k % 2 = 1 THEN 'inbound' ELSE 'outbound' END, c.channel, '消息',
            CASE WHEN k % 2 = 0 THEN 'engine:embedded' END,
            c.started_at + k * (9 + c.id % 32) * interval '1 hour'
        FROM conversations c CROSS JOIN generate_series(1, :per_conversation) k;
        """,
    ),
    (
        "hand-offs, tasks, questions",
        # 5 % of conversations handed off (HR answers 90 % of them, 1 to 49 h later, to the
        # second),
        # 3 % with an HR task, 2 % with a question drafted for HR.
        """
        INSERT INTO handoffs (conversation_id, reason, opened_at, closed_at, closed_by)
        SELECT c.id, (ARRAY['asked', 'complaint', 'fallback'])[1 + c.id % 3],
            c.started_at + interval '3 hours',
            CASE WHEN c.id % 200 <> 0 THEN c.started_at + interval '80 hours' END,
            CASE WHEN c.id % 200 <> 0 THEN 'user:2' END
        FROM conversations c WHERE c.id % 20 = 0;
        INSERT INTO chat_messages (conversation_id, candidate_id, direction, channel, text,
            author, at)
        SELECT h.conversation_id, c.candidate_id, 'outbound', c.channel, 'HR 回复',
            'user:' || (2 + c.id % 30),
            h.opened_at + (1 + c.id % 48) * interval '1 hour'
                + (c.id * 53) % 3600 * interval '1 second'
        FROM handoffs h JOIN conversations c ON c.id = h.conversation_id
        WHERE h.id % 10 <> 0;
        INSERT INTO hr_tasks (kind, team_id, candidate_id, application_id, conversation_id,
            details, created_at)
        SELECT 'reschedule', j.team_id, a.candidate_id, a.id, c.id, '{}'::jsonb,
            c.started_at + interval '5 hours'
        FROM conversations c JOIN applications a ON a.candidate_id = c.candidate_id
        JOIN jobs j ON j.id = a.job_id WHERE c.id % 100 < 3 AND c.id % 20 <> 0;
        INSERT INTO job_questions (conversation_id, candidate_id, job_id, team_id, topic,
            locale, question, draft, state, asked_at)
        SELECT c.id, a.candidate_id, j.id, j.team_id, 'salary', 'zh-CN', '工资?', '面议',
            'pending', c.started_at + interval '6 hours'
        FROM conversations c JOIN applications a ON a.candidate_id = c.candidate_id
        JOIN jobs j ON j.id = a.job_id WHERE c.id % 100 BETWEEN 3 AND 4;
        """,
    ),
    (
        "satisfaction",
        # Asked after every sent result of a chatting candidate; 40 % answer 1 to 5.
        """
        INSERT INTO csat_ratings (outreach_message_id, candidate_id, conversation_id,
            asked_at, rating, rated_at)
        SELECT m.id, c.candidate_id, c.id, m.sent_at + interval '5 minutes',
            CASE WHEN m.id % 5 < 2 THEN 1 + (m.id / 5) % 5 END,
            CASE WHEN m.id % 5 < 2 THEN m.sent_at + interval '2 hours' END
        FROM outreach_messages m JOIN applications a ON a.id = m.application_id
        JOIN conversations c ON c.candidate_id = a.candidate_id
        WHERE m.sent_at IS NOT NULL;
        """,
    ),
]
TRIGGERED = (
    "interviews",
    "outreach_messages",
    "applications",
    "chat_messages",
    "conversations",
    "handoffs",
    "hr_tasks",
    "job_questions",
    "csat_ratings",
    "outbox",
)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def generate(
    url: str, applications: int, messages: int, chat_messages: int, days: int
) -> None:
    settings = Settings(database_url=url, redis_url="memory://", env="development")
    runtime = Runtime.create(settings)
    try:
        from candor.bootstrap import ensure_reference_data

        await ensure_reference_data(runtime)
        async with runtime.engine.connect() as connection:
            template_id = (
                await connection.execute(text("SELECT min(id) FROM message_templates"))
            ).scalar_one()
        interviews = applications - applications // 10
        versions = max(1, round(messages / interviews))
        params = {
            "applications": applications,
            "jobs": JOBS,
            "days": days,
            "versions": versions,
            "template_id": template_id,
            "per_conversation": max(1, round(chat_messages / max(1, applications * 3 // 5))),
        }
        # A bulk load: the facts' triggers are off while loading, and the backfill
        # (`candor kpis rebuild`) computes the facts afterwards, as for existing data.
        async with runtime.engine.begin() as connection:
            for table in TRIGGERED:
                await connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        for what, sql in GENERATE:
            started = time.perf_counter()
            async with runtime.engine.begin() as connection:
                for statement in filter(str.strip, sql.split(";")):
                    used = {k: v for k, v in params.items() if f":{k}" in statement}
                    await connection.execute(text(statement), used)
            print(f"  {what:<20} {time.perf_counter() - started:7.1f} s", flush=True)
        async with runtime.engine.begin() as connection:
            for table in TRIGGERED:
                await connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        async with runtime.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
        started = time.perf_counter()
        async with runtime.transaction() as session:
            for done in await facts.rebuild(session):
                print(f"  {done.table:<24} {done.rows:>10,} rows {done.seconds:7.1f} s")
        print(f"  backfill (candor kpis rebuild) {time.perf_counter() - started:7.1f} s")
        async with runtime.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
            counts = {
                table: (
                    await connection.execute(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
                ).scalar()
                for table in (
                    "applications",
                    "interviews",
                    "outreach_messages",
                    "outbox",
                    "conversations",
                    "chat_messages",
                    "handoffs",
                    "csat_ratings",
                )
            }
        print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()), flush=True)
    finally:
        await runtime.aclose()


async def measure(url: str, window: int, requests: int) -> None:
    settings = Settings(database_url=url, redis_url="memory://", env="development")
    runtime = Runtime.create(settings)
    app = create_app(runtime=runtime)
    today = utcnow().astimezone(BUSINESS_TZ).date()
    params = {"from": (today - timedelta(days=window - 1)).isoformat(), "to": today.isoformat()}
    try:
        async with runtime.transaction() as session:
            admin_id = (
                await session.execute(text("SELECT id FROM hr_users WHERE role = 'admin'"))
            ).scalar_one()
            recruiter_id = (
                await session.execute(text("SELECT min(id) FROM hr_users WHERE role = 'recruiter'"))
            ).scalar_one()
            admin_token = (
                await issue_token(session, name="bench", scopes=[Scope.HR], hr_user_id=admin_id)
            ).plaintext
            recruiter_token = (
                await issue_token(
                    session, name="bench-r", scopes=[Scope.HR], hr_user_id=recruiter_id
                )
            ).plaintext
        async with (
            LifespanManager(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120
            ) as client,
        ):
            client.cookies.set(SESSION_COOKIE, await create_session(runtime.redis, admin_id))
            cases = [
                ("GET /api/v1/kpis (admin, all teams)", "/api/v1/kpis", admin_token),
                ("GET /api/v1/kpis (recruiter, 1 team)", "/api/v1/kpis", recruiter_token),
                ("GET /console/kpis (admin dashboard)", "/console/kpis", None),
            ]
            for label, path, token in cases:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                samples = []
                for attempt in range(requests + 2):
                    started = time.perf_counter()
                    answer = await client.get(path, params=params, headers=headers)
                    elapsed = (time.perf_counter() - started) * 1000
                    if answer.status_code != 200:
                        raise SystemExit(f"{label}: {answer.status_code} {answer.text[:300]}")
                    if attempt >= 2:
                        samples.append(elapsed)
                print(
                    f"  {label:<40} p50 {statistics.median(samples):7.0f} ms   "
                    f"p95 {percentile(samples, 0.95):7.0f} ms   (n={len(samples)})",
                    flush=True,
                )
            body = (
                await client.get(
                    "/api/v1/kpis",
                    params=params,
                    headers={"Authorization": f"Bearer {admin_token}"},
                )
            ).json()["figures"]
            print(
                f"  window figures: {body['interviews_completed']:,} interviews, timeliness "
                f"{body['timeliness_rate']:.3f}, median {body['time_to_feedback_median']} "
                f"working days, {body['breaches_open']:,} open breaches, funnel "
                f"{body['funnel']}",
                flush=True,
            )
            print(
                f"  conversations: {body['results_sent']:,} results sent, reply rate "
                f"{body['reply_rate']:.3f}; {body['conversations_started']:,} conversations, "
                f"containment {body['containment_rate']:.3f}; {body['handoffs']:,} hand-offs, "
                f"HR first response median {body['hr_first_response_median_hours']:.1f} h; "
                f"CSAT {body['csat']['rated']:,} of {body['csat']['asked']:,}, mean "
                f"{body['csat']['mean']:.2f}",
                flush=True,
            )
    finally:
        await runtime.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=5_000_000, help="result messages")
    parser.add_argument("--chat-messages", type=int, default=5_000_000)
    parser.add_argument("--days", type=int, default=730, help="the history's span")
    parser.add_argument("--window", type=int, default=90, help="the measured date range")
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with postgres_database("candor_bench_kpi") as url:
        upgrade(Settings(database_url=url, env="development"))
        print(
            f"generating {args.applications:,} applications, about {args.messages:,} result "
            f"messages and {args.chat_messages:,} chat messages over {args.days} days",
            flush=True,
        )
        started = time.perf_counter()
        asyncio.run(generate(url, args.applications, args.messages, args.chat_messages, args.days))
        print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
        print(f"timing the last {args.window} days, {args.requests} requests each:", flush=True)
        asyncio.run(measure(url, args.window, args.requests))


if __name__ == "__main__":
    main()
