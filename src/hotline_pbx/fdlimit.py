"""The open-file budget: every AGI session, HTTP connection and pool slot is a descriptor.

A service manager's default soft limit is often 1,024 open files, fewer than
`agi.max_sessions` alone (2,000). Past the limit accept() fails for both
listeners: /healthz and FastAGI stop answering (issue 9, item 7). So at start
the daemon counts what its settings may open, raises the soft limit towards
the hard one if needed, and refuses to start (exit 2) when even the hard
limit is too small, naming the settings to lower.
"""

from __future__ import annotations

import logging
import resource
from typing import Final

from hotline_pbx.config import DATABASE_POOL_OVERFLOW, ConfigError, Settings

log = logging.getLogger(__name__)

#: Descriptors beside sessions, connections and the pool: stdio, the epoll
#: descriptor, listening sockets, AMI, the config listener's connection, the
#: embedded PostgreSQL's pipes, the spool, modules being imported, a refused
#: connection's brief accept.
FIXED_OPEN_FILES: Final = 64


def open_files_needed(settings: Settings) -> int:
    """How many descriptors the daemon may hold at once with these settings."""
    return (settings.agi.max_sessions + settings.http.max_connections
            + settings.database.pool_size + DATABASE_POOL_OVERFLOW + FIXED_OPEN_FILES)


def ensure_open_file_limit(settings: Settings) -> None:
    """Raise RLIMIT_NOFILE's soft limit to what `settings` need, or refuse them."""
    needed = open_files_needed(settings)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise ConfigError(
            "agi.max_sessions",
            f"agi.max_sessions ({settings.agi.max_sessions}) + http.max_connections "
            f"({settings.http.max_connections}) + the database pool need about {needed} open "
            f"files, but this process may open at most {hard} (RLIMIT_NOFILE); lower "
            f"agi.max_sessions or http.max_connections, or raise the limit "
            f"(LimitNOFILE= in the systemd unit, ulimit -n)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    log.info("open-files limit raised from %d to %d for agi.max_sessions + "
             "http.max_connections", soft, needed)
