"""/healthz, /readyz and /metrics: what load balancers, orchestrators and Prometheus ask."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hotline_pbx.domain.masking import mask_text
from hotline_pbx.metrics import REGISTRY

ReadinessCheck = Callable[[], Awaitable[tuple[bool, str]]]
Handler = Callable[[web.Request], Awaitable[web.Response]]


async def healthz(_request: web.Request) -> web.Response:
    """The process is alive and its loop answers."""
    return web.json_response({"status": "ok"})


def make_readyz(checks: Mapping[str, ReadinessCheck]) -> Handler:
    """Each component reports itself; any failure makes the whole answer 503.
    /readyz needs no token, so its details are masked as for a viewer: a
    stored roster that does not load names the mobile it refuses."""

    async def readyz(_request: web.Request) -> web.Response:
        report: dict[str, dict[str, object]] = {}
        for name, check in checks.items():
            try:
                ok, detail = await check()
            except Exception as exc:  # a failing check is a not-ready component, not a 500
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            report[name] = {"ok": ok, "detail": mask_text(detail)}
        ready = all(item["ok"] for item in report.values())
        return web.json_response({"ready": ready, "components": report},
                                 status=200 if ready else 503)

    return readyz


async def metrics(_request: web.Request) -> web.Response:
    body = generate_latest(REGISTRY)
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response


def add_health_routes(app: web.Application, checks: Mapping[str, ReadinessCheck]) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", make_readyz(checks))
    app.router.add_get("/metrics", metrics)
