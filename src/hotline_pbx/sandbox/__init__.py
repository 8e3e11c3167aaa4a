"""The real PBX used by tests, the demo and the benchmarks.

A Debian unstable root with Asterisk 22 (built once by
``scripts/build-asterisk-root.sh`` and cached), our own ``asterisk-conf/`` and
``dialplan/`` installed into it per instance with free loopback ports, and SIPp
scenarios that place real SIP calls. Not used by the daemon itself.
"""
