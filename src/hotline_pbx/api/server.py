"""The HTTP listener (API, /healthz, /readyz, /metrics) as a component of the daemon."""

from __future__ import annotations

from aiohttp import web

from hotline_pbx.api.app_factory import build_app
from hotline_pbx.api.connections import HttpConnectionGuard
from hotline_pbx.api.context import ApiContext
from hotline_pbx.config import HttpSettings
from hotline_pbx.lifecycle import Readiness, ReadinessBoard

BACKLOG = 512


class HttpServer:
    """One port for everything HTTP, every connection under the connection guard."""

    name = "HTTP server"

    def __init__(self, api: ApiContext, readiness: ReadinessBoard,
                 settings: HttpSettings) -> None:
        self._settings = settings
        self._guard = HttpConnectionGuard(max_connections=settings.max_connections,
                                          header_timeout=settings.header_timeout,
                                          body_timeout=settings.body_timeout)
        app = build_app(api, readiness, middlewares=[self._guard.middleware])
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self.port = 0  # the bound port once started (useful with port 0)

    async def start(self) -> None:
        """Listen; an OSError (port in use…) leaves nothing open."""
        s = self._settings
        await self._runner.setup()
        site = self._guard.site(self._runner, s.host, s.port, backlog=BACKLOG)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            raise
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self._runner.cleanup()

    def readiness(self) -> Readiness:
        """Answering /readyz is the proof; reported only for completeness."""
        return Readiness(True, f"listening on port {self.port}")
