"""Usage by day for the key that asks: ``GET /v1/usage/daily`` and the page ``/dashboard``.

The JSON route answers only the caller's own key (there is no key to name, so no other key's
usage to ask for), over a bounded range of UTC days that ends on ``last`` (today by default),
every day present and the days without requests as zeros, so that a chart needs no gap logic.
It counts against the key's rate limit like any keyed call, and is never cached.

The page is static: it holds no secret and asks for the key, which it keeps in the tab's
``sessionStorage`` and sends only as the ``X-API-Key`` header of its one request, never in a URL.
It draws its table and its SVG chart with its own script, under the same Content-Security-Policy
as the playground (pages.py). ``settings.dashboard`` turns the page off; the route stays.
"""

# No ``from __future__ import annotations``: FastAPI reads route annotations at run time.
import datetime as dt
import functools
import re
from collections.abc import Iterable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BeforeValidator

from tersify.integrations.server import schemas as s
from tersify.integrations.server.errors import ERROR_RESPONSES
from tersify.integrations.server.pages import secured_page
from tersify.integrations.server.routes import Key
from tersify.integrations.server.store import UsageDay

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "daily_series", "page_router", "router"]

router = APIRouter()
page_router = APIRouter()
DEFAULT_DAYS = 30
MAX_DAYS = 366  # a year, leap or not: the longest range one request reads
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_day(value: Any) -> Any:
    """Only ``YYYY-MM-DD``: pydantic alone would also take ``0`` (the Unix epoch) or a time."""
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("must be a day written YYYY-MM-DD")
    return value


Days = Annotated[int, Query(ge=1, le=MAX_DAYS, description="How many days, ending on last.")]
LastDay = Annotated[dt.date | None, BeforeValidator(_iso_day),
                    Query(description="The range's last day (UTC, YYYY-MM-DD); today if none.")]


def daily_series(rows: Iterable[UsageDay], first: dt.date, last: dt.date) -> list[s.DailyUsageBody]:
    """One entry per day from ``first`` to ``last``, oldest first: the stored row's numbers,
    or zeros for a day without requests (rows outside the range are left out)."""
    stored = {row.day: row for row in rows}
    series = []
    for offset in range((last - first).days + 1):
        day = (first + dt.timedelta(days=offset)).isoformat()
        row = stored.get(day) or UsageDay(day=day, requests=0, tokens_in=0, tokens_out=0)
        series.append(s.DailyUsageBody(day=day, requests=row.requests, tokens_in=row.tokens_in,
                                       tokens_out=row.tokens_out,
                                       tokens_saved=row.tokens_in - row.tokens_out))
    return series


def _range(days: int, last: dt.date | None) -> tuple[dt.date, dt.date]:
    """The first and last day; a range that would begin before year 1 begins there."""
    end = last or dt.datetime.now(dt.UTC).date()
    start = dt.date.min + dt.timedelta(days=max(0, (end - dt.date.min).days - (days - 1)))
    return start, end


@router.get("/v1/usage/daily", response_model=s.DailyUsageResponse, tags=["Usage"],
            responses={**ERROR_RESPONSES, 400: {**ERROR_RESPONSES[400],
                                                "description": "Invalid days or last"}},
            summary=f"The caller's usage by UTC day (at most {MAX_DAYS} days; the key's own only)")
async def daily(request: Request, key: Key, days: Days = DEFAULT_DAYS,
                last: LastDay = None) -> JSONResponse:
    first, end = _range(days, last)
    rows = await anyio.to_thread.run_sync(
        functools.partial(request.app.state.store.usage, key.id, first=first.isoformat(),
                          last=end.isoformat()))
    series = daily_series(rows, first, end)
    totals = s.UsageTotals(
        requests=sum(d.requests for d in series), tokens_in=sum(d.tokens_in for d in series),
        tokens_out=sum(d.tokens_out for d in series),
        tokens_saved=sum(d.tokens_saved for d in series))
    body = s.DailyUsageResponse(key_id=key.id, key_name=key.name, first=first.isoformat(),
                                last=end.isoformat(), totals=totals, days=series)
    # One key's numbers: no shared cache, nor the browser's, keeps them.
    return JSONResponse(body.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


@functools.cache
def _page() -> tuple[str, dict[str, str]]:
    return secured_page("dashboard.html")


@page_router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    text, headers = _page()
    return HTMLResponse(text, headers=headers)
