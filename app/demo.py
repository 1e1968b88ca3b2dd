"""A small demo company so every endpoint can be tried at once.

Its ids match the examples of the Dyzo documentation (employee 10, tasks
250-252), so the Swagger UI's example bodies work as they are. Loading is
idempotent: reference data is upserted, logs are deduplicated, and a week
already submitted is left as it is."""

from datetime import date, datetime, timedelta
from typing import Any

from app.auth.principal import SYSTEM
from app.core.database import create_engine, make_sessionmaker
from app.core.settings import Settings
from app.core.timeutil import utcnow
from app.models import Webhook
from app.reference import service as reference
from app.reference.schemas import CompanyIn, EmployeeIn, ProjectIn, TaskIn
from app.submissions.repository import SubmissionRepository
from app.submissions.schemas import SubmissionIn
from app.submissions.service import approve, submit_week
from app.tasklogs.service import create_task_logs
from app.timers.repository import TimerRepository
from app.timers.schemas import TimerStart
from app.timers.service import start_timer
from app.webhooks.repository import webhook_repository
from app.webhooks.schemas import EXAMPLE_URL
from app.webhooks.service import new_secret

COMPANY_ID = 1
DEMO_WEEK = date(2024, 10, 21)


def _log(task_id: int, user_id: int, start: str, end: str, description: str) -> dict[str, Any]:
    """A log of the demo, typed in by hand, in the employee's wall time."""
    return {
        "task_id": task_id,
        "user_id": user_id,
        "start_time": datetime.fromisoformat(start),
        "end_time": datetime.fromisoformat(end),
        "description": description,
        "manual_add": True,
    }


async def load_demo(settings: Settings) -> str:
    engine = create_engine(settings)
    sessionmaker = make_sessionmaker(engine)
    try:
        async with sessionmaker() as session, session.begin():
            await reference.put_company(
                session, COMPANY_ID, CompanyIn(name="Demo Studio", timezone="Europe/Berlin"), actor=SYSTEM
            )
            people = [
                (1, "Dana Admin", "dana@demo.example", True, False, None),
                (10, "Asha Rao", "asha@demo.example", False, False, None),
                (11, "Ravi Kumar", "ravi@demo.example", False, True, "Asia/Kolkata"),
            ]
            for emp_id, name, email, admin, leader, tz in people:
                await reference.put_employee(
                    session,
                    emp_id,
                    EmployeeIn(
                        company_id=COMPANY_ID,
                        name=name,
                        email=email,
                        is_admin=admin,
                        is_team_leader=leader,
                        timezone=tz,
                    ),
                    actor=SYSTEM,
                )
            await reference.put_project(
                session, 7, ProjectIn(company_id=COMPANY_ID, name="Website relaunch", allocated_hours=8), actor=SYSTEM
            )
            await reference.put_project(
                session, 8, ProjectIn(company_id=COMPANY_ID, name="Mobile app", allocated_hours=200), actor=SYSTEM
            )
            for task_id, project_id, name, alloc in [
                (250, 7, "Authentication module", 8.5),
                (251, 7, "Code review", None),
                (252, 7, "Bug fixes", None),
                (253, 8, "Offline sync", 40),
            ]:
                await reference.put_task(
                    session, task_id, TaskIn(project_id=project_id, name=name, allocated_hours=alloc), actor=SYSTEM
                )
            logs = [
                (250, 10, "2024-10-28T09:00:00", "2024-10-28T12:00:00", "Login form"),
                (251, 10, "2024-10-28T13:00:00", "2024-10-28T14:30:00", "Reviewed pull requests"),
                (253, 11, "2024-10-28T10:00:00", "2024-10-28T17:30:00", "Sync conflict handling"),
                # Overlaps the one before: time warning 1 (OVERLAPPING_LOG), for the warnings endpoints.
                (253, 11, "2024-10-28T17:00:00", "2024-10-28T18:00:00", "Sync conflict follow-up"),
            ]
            await create_task_logs(session, settings, [_log(*item) for item in logs], batch=True, actor=SYSTEM)
            # Employee 10's timer has been running for half an hour: timer 1, for the timer endpoints.
            if await TimerRepository(session).running_of(10) is None:
                started = (utcnow() - timedelta(minutes=30)).replace(tzinfo=None, microsecond=0).isoformat() + "Z"
                await start_timer(
                    session,
                    settings,
                    TimerStart(task_id=250, user_id=10, description="Login page", start_time=started),
                    actor=SYSTEM,
                )
            # The week of 2024-10-21, for the submission endpoints: employee 10's is submitted
            # (submission 1), employee 11's approved (submission 2). Its logs are written only with
            # the submission: a submitted week refuses them, even as duplicates.
            submissions = SubmissionRepository(session)
            for user_id, approved, week_log in (
                (10, False, (253, 10, "2024-10-22T09:00:00", "2024-10-22T11:00:00", "Offline sync research")),
                (11, True, (253, 11, "2024-10-23T10:00:00", "2024-10-23T13:00:00", "Sync protocol draft")),
            ):
                if await submissions.of_week(user_id, DEMO_WEEK) is None:
                    await create_task_logs(session, settings, [_log(*week_log)], batch=True, actor=SYSTEM)
                    week = await submit_week(
                        session, settings, SubmissionIn(user_id=user_id, week_start=DEMO_WEEK), actor=SYSTEM
                    )
                    if approved:
                        await approve(session, settings, week["submissionId"], "Looks right", actor=SYSTEM)
            # A paused subscription (webhook 1), for the webhook endpoints: its URL is a placeholder, so
            # it stays paused until given a receiver's (PATCH url, then enabled: true).
            webhooks = webhook_repository(session)
            if not await webhooks.of_company(COMPANY_ID):
                await webhooks.add(
                    Webhook(
                        company_id=COMPANY_ID,
                        url=EXAMPLE_URL,
                        events=["*"],
                        description="Billing service (placeholder URL)",
                        enabled=False,
                        secret=new_secret(),
                    )
                )
    finally:
        await engine.dispose()
    return (
        "Demo company 1 (Europe/Berlin) loaded: admin 1, employees 10 and 11, projects 7 (8 h allocated, 4:30 "
        "logged) and 8, tasks 250-253, employee 10's running timer, employee 11's overlapping logs (time "
        "warning 1), employee 10's week of 2024-10-21 submitted (submission 1) and employee 11's "
        "approved (submission 2), and a paused webhook subscription (1). The documentation's bulk example "
        "for employee 10 takes project 7 over its allocation and notifies admin 1."
    )
