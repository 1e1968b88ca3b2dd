"""The stack's floor: the least a single create can cost on the service's
fixed stack (FastAPI, Pydantic, SQLAlchemy's async session over asyncpg,
uvicorn), for the concurrency rows. One route, no authentication, no
middleware, no rules: the body validated by a Pydantic model, one INSERT ...
ON CONFLICT DO NOTHING RETURNING in a transaction of its own session, the
envelope answered. bench/floor.py is the floor of the work (raw ASGI over
asyncpg); this one says how much of the gap between it and the service the
stack takes before any of our code runs.

    BENCH_FLOOR_DSN=postgresql://root@127.0.0.1/db python -m uvicorn bench.stack_floor:app --port 8002

BENCH_STACK_STATEMENTS=N (default 1, the bench's row) runs N statements in
the transaction: N - 1 one-row reads of the employee by its key, then the
INSERT. With the service's count (5 for a create: its plan setting, its
tasks and employees, period locks, the insert, the history) it is the floor
of the stack at that many round trips, for judging what a statement fewer
would buy (bench/RESULTS.md).
"""

import os
from datetime import datetime

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

# The service's default pool: 20 connections kept, no overflow (SQLAlchemy
# closes and reopens overflow connections under a swinging load).
engine = create_async_engine(
    os.environ["BENCH_FLOOR_DSN"].replace("postgresql://", "postgresql+asyncpg://", 1),
    pool_size=20,
    max_overflow=0,
)
sessions = async_sessionmaker(engine, expire_on_commit=False)

INSERT = text(
    "INSERT INTO task_logs (task_id, user_id, start_time, end_time, description, manual_add, created_by, updated_by) "
    "VALUES (:task_id, :user_id, :start_time, :end_time, :description, :manual_add, 'stack', 'stack') "
    "ON CONFLICT (task_id, user_id, start_time) DO NOTHING RETURNING id"
)

READ = text("SELECT id, company_id, timezone FROM employees WHERE id = :user_id")
EXTRA_READS = int(os.environ.get("BENCH_STACK_STATEMENTS", "1")) - 1


class NewLog(BaseModel):
    taskId: int
    userId: int
    startTime: datetime
    endTime: datetime
    description: str = ""
    manualAdd: bool = False


app = FastAPI(openapi_url=None)


@app.get("/stack/ready")
async def ready() -> dict[str, bool]:
    return {"ready": True}


@app.post("/stack/create")
async def create(log: NewLog) -> JSONResponse:
    values = {
        "task_id": log.taskId,
        "user_id": log.userId,
        "start_time": log.startTime,
        "end_time": log.endTime,
        "description": log.description,
        "manual_add": log.manualAdd,
    }
    async with sessions() as session, session.begin():
        for _ in range(EXTRA_READS):
            (await session.execute(READ, {"user_id": log.userId})).one()
        log_id = await session.scalar(INSERT, values)
    if log_id is None:
        return JSONResponse({"status": 0, "message": "duplicate"}, status_code=409)
    return JSONResponse({"status": 1, "data": {"taskLogId": log_id, **log.model_dump(mode="json")}})
