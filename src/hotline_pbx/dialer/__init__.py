"""The dialer: outbound calls on the general trunk over ARI (docs/dialer.md).

:mod:`.service` runs the jobs (pacing, the window, retries, restart
reconciliation); :mod:`.legs` follows each channel's ARI events;
:mod:`.dialogs` and :mod:`.bridge` are what happens once a call is answered;
:mod:`.sound` turns a job's message into a file Asterisk plays.
"""
