"""A typical hand-written Daily webhook receiver: FastAPI + asyncpg, one insert per request.

Verifies the signature like lobbylog, then `insert ... on conflict do nothing` in its own
transaction. Used only as the benchmark baseline.
"""

import base64
import hashlib
import hmac
import json
import os

from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request, Response

DATABASE_URL = os.environ["DATABASE_URL"]
KEY = base64.b64decode(os.environ["DAILY_WEBHOOK_SECRET"])
pool = None


@asynccontextmanager
async def lifespan(_app):
    global pool
    pool = await asyncpg.create_pool(DATABASE_URL, min_size=10, max_size=10)
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/webhooks/daily")
async def receive(request: Request):
    body = await request.body()
    timestamp = request.headers.get("x-webhook-timestamp", "")
    signature = request.headers.get("x-webhook-signature", "")
    expected = base64.b64encode(
        hmac.new(KEY, timestamp.encode() + b"." + body, hashlib.sha256).digest()
    ).decode()
    if not hmac.compare_digest(expected, signature):
        return Response(status_code=401)
    event = json.loads(body)
    await pool.execute(
        "insert into webhook_events (event_id, event_type, body) values ($1, $2, $3) "
        "on conflict (event_id) do nothing",
        event["id"],
        event["type"],
        body.decode(),
    )
    return {"status": "ok"}
