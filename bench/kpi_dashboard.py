"""Benchmark the response KPIs on a large history: `GET /api/v1/kpis` and the dashboard.

    .venv/bin/python bench/kpi_dashboard.py                          # 1,000,000 applications
    .venv/bin/python bench/kpi_dashboard.py --applications 100000 --requests 10

Generates, inside a PostgreSQL database created for the run (and dropped afterwards), a
company of 10 teams, 500 jobs and `--applications` applications spread over `--days` days,
each with a completed AI interview (90 %) and `--messages` result messages in all (several
result versions per application, the older ones superseded; the latest is sent for 85 %
of them, in time or late, rejected by HR for the rest, or still pending when recent), one
delivery per sent message (95 % delivered), and HR decisions on 60 % of the sent ones. The data is
written by SQL (`generate_series`), not through the services: the benchmark measures
reading it. Then it serves the app in-process and times, for the last `--window` days,
`GET /api/v1/kpis` (admin: every team; and a recruiter: one team) and the dashboard page
`GET /console/kpis`, printing p50 and p95 of `--requests` requests after two warm-ups.
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
                 THEN i.completed_at + (20 + (i.id * 7) % 72) * interval '1 hour' END,
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
]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def generate(url: str, applications: int, messages: int, days: int) -> None:
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
        }
        for what, sql in GENERATE:
            started = time.perf_counter()
            async with runtime.engine.begin() as connection:
                for statement in filter(str.strip, sql.split(";")):
                    used = {k: v for k, v in params.items() if f":{k}" in statement}
                    await connection.execute(text(statement), used)
            print(f"  {what:<20} {time.perf_counter() - started:7.1f} s", flush=True)
        async with runtime.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
            counts = {
                table: (
                    await connection.execute(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
                ).scalar()
                for table in ("applications", "interviews", "outreach_messages", "outbox")
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
    finally:
        await runtime.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--days", type=int, default=730, help="the history's span")
    parser.add_argument("--window", type=int, default=90, help="the measured date range")
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with postgres_database("candor_bench_kpi") as url:
        upgrade(Settings(database_url=url, env="development"))
        print(
            f"generating {args.applications:,} applications and about {args.messages:,} "
            f"messages over {args.days} days",
            flush=True,
        )
        started = time.perf_counter()
        asyncio.run(generate(url, args.applications, args.messages, args.days))
        print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
        print(f"timing the last {args.window} days, {args.requests} requests each:", flush=True)
        asyncio.run(measure(url, args.window, args.requests))


if __name__ == "__main__":
    main()
