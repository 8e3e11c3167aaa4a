"""The real PBX used by tests, the demo and the benchmarks.

A Debian unstable root with Asterisk 22 (built once by
``scripts/build-asterisk-root.sh`` and cached), our own ``asterisk-conf/`` and
``dialplan/`` installed into it per instance with free loopback ports, and SIPp
scenarios that place real SIP calls. Not used by the daemon itself.

The product's files come from :mod:`hotline_pbx.resources` (a checkout or an
install); the sandbox's own stand-ins (``sandbox/extensions_site.conf``) and
the root's build script are harness and only in a checkout: run from an
install, the sandbox says so in one line (:func:`hotline_pbx.sandbox.pbx.harness_path`).
"""
