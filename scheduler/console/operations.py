"""Sources (health, items per day, poll now) and alerts (the delivery ledger, retry)."""

from __future__ import annotations

from sqlalchemy import update
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from alerts.models import RESENDABLE, Delivery, DeliveryStatus
from alerts.outbox import retry
from crawler.models import Source
from scheduler.console.app import PAGE_SIZE, context, render
from scheduler.console.auth import checked_form, safe_next
from scheduler.console.queries import ledger_page, source_health

STATUSES = tuple(DeliveryStatus)
CHART_DAYS = 30


def sources_page(request: Request) -> Response:
    """GET /sources: the health table of ``wirewatch sources`` with a 30-day chart each."""
    ctx = context(request)
    cfg = ctx.config()
    configured = cfg.sources.sources
    with ctx.read() as session:
        health = source_health(
            session, [s.id for s in configured], cfg.settings.timezone, ctx.clock(), CHART_DAYS
        )
    rows = [(src, health[src.id]) for src in configured]
    return render(
        request,
        "sources.html.j2",
        rows=rows,
        days=CHART_DAYS,
        polled=request.query_params.get("polled", ""),
    )


async def poll_now(request: Request) -> Response:
    """POST /sources/{id}/poll: make the source due now; the daemon's next tick polls it."""
    await checked_form(request)
    ctx = context(request)
    source_id = request.path_params["source_id"]
    now = ctx.clock()

    def mark_due() -> int:
        with ctx.write.begin() as session:
            done = session.execute(
                update(Source)
                .where(Source.id == source_id, Source.enabled.is_(True))
                .values(next_poll_at=now)
            )
            return int(done.rowcount or 0)  # type: ignore[attr-defined]

    if not await run_in_threadpool(mark_due):
        raise HTTPException(404, f"no enabled source {source_id!r}")
    return RedirectResponse(f"/sources?polled={source_id}#source-{source_id}", status_code=303)


def alerts_page(request: Request) -> Response:
    """GET /alerts: the delivery ledger, newest first, filtered, paged by id."""
    ctx = context(request)
    cfg = ctx.config()
    p = request.query_params
    status = p.get("status", "")
    if status and status not in STATUSES:
        raise HTTPException(400, f"status must be one of {', '.join(STATUSES)}")
    before = p.get("before", "")
    if before and not before.isdigit():
        raise HTTPException(400, "before: not a delivery id")
    with ctx.read() as session:
        rows, next_before = ledger_page(
            session,
            status=status or None,
            watchlist=p.get("watchlist") or None,
            channel=p.get("channel") or None,
            before=int(before) if before else None,
            limit=PAGE_SIZE,
        )
    return render(
        request,
        "alerts.html.j2",
        rows=rows,
        filters={k: p.get(k, "") for k in ("status", "watchlist", "channel")},
        statuses=STATUSES,
        retryable=RESENDABLE,
        watchlists=[w.name for w in cfg.watchlists],
        channels=sorted(cfg.channels),
        next_before=next_before,
        retried=p.get("retried", ""),
    )


async def retry_delivery(request: Request) -> Response:
    """POST /alerts/{id}/retry: re-queue a failed or dead delivery for an immediate attempt."""
    form = await checked_form(request)
    ctx = context(request)
    delivery_id = request.path_params["delivery_id"]

    def requeue() -> int:
        with ctx.write() as session:
            row = session.get(Delivery, delivery_id, with_for_update=True)
            if row is None or row.status not in RESENDABLE:
                return -1 if row is None else 0
            return retry(session, [delivery_id])

    done = await run_in_threadpool(requeue)
    if done < 0:
        raise HTTPException(404, f"no delivery {delivery_id}")
    if done == 0:
        raise HTTPException(409, f"delivery {delivery_id} is neither failed nor dead")
    back = safe_next(str(form.get("next") or "/alerts"))
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}retried={delivery_id}", status_code=303)


routes = [
    Route("/sources", sources_page),
    Route("/sources/{source_id}/poll", poll_now, methods=["POST"]),
    Route("/alerts", alerts_page),
    Route("/alerts/{delivery_id:int}/retry", retry_delivery, methods=["POST"]),
]
