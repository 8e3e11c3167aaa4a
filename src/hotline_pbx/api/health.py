"""/healthz, /readyz and /metrics: what load balancers, orchestrators and Prometheus ask."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hotline_pbx.domain.masking import mask_text
from hotline_pbx.lifecycle import ReadinessBoard
from hotline_pbx.metrics import REGISTRY

Handler = Callable[[web.Request], Awaitable[web.Response]]


async def healthz(_request: web.Request) -> web.Response:
    """The process is alive and its loop answers."""
    return web.json_response({"status": "ok"})


def make_readyz(board: ReadinessBoard) -> Handler:
    """Each component reports itself; any not ready (but an advisory one, such as
    the line monitor) makes the whole answer 503.
    /readyz needs no token, so its details are masked as for a viewer: a
    stored roster that does not load names the mobile it refuses."""

    async def readyz(_request: web.Request) -> web.Response:
        report = await board.report()
        ready = board.ready(report)
        components = {name: {"ok": item.ok, "detail": mask_text(item.detail)}
                      for name, item in report.items()}
        return web.json_response({"ready": ready, "components": components},
                                 status=200 if ready else 503)

    return readyz


async def metrics(_request: web.Request) -> web.Response:
    body = generate_latest(REGISTRY)
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response


def add_health_routes(app: web.Application, board: ReadinessBoard) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", make_readyz(board))
    app.router.add_get("/metrics", metrics)
