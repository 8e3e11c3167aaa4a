#!/bin/sh
# Put the stack's secrets and addresses into the shipped Asterisk files, then
# run Asterisk in the foreground (or the command given, for a check). Secrets
# come from the environment (compose's .env), never from the image.
#   AMI_SECRET    the manager.conf [hotline] secret (the daemon's HOTLINE_AMI_SECRET)
#   ARI_PASSWORD  the ari.conf [hotline] password (optional: ARI off without it)
#   AGI_TARGET    host:port of the daemon's FastAGI, as the dialplan asks it
#   AMI_PERMIT    the network allowed to log in to AMI (the daemon's)
#   CONF_DIR      the Asterisk configuration directory (default /etc/asterisk)
set -eu
: "${AMI_SECRET:?the AMI secret (manager.conf [hotline])}"
: "${ARI_PASSWORD:=}"
: "${AGI_TARGET:=172.30.0.20:4573}"
: "${AMI_PERMIT:=172.30.0.0/255.255.255.0}"
: "${CONF_DIR:=/etc/asterisk}"
# AMI: listen on the stack's network, for the daemon's subnet only.
sed -i -e "s|^bindaddr = 127.0.0.1|bindaddr = 0.0.0.0|" \
       -e "s|^secret = .*|secret = ${AMI_SECRET}|" \
       -e "s|^permit = 127.0.0.1/255.255.255.255|permit = ${AMI_PERMIT}|" \
       "$CONF_DIR/manager.conf"
if [ -n "$ARI_PASSWORD" ]; then
    sed -i "s|^password = .*|password = ${ARI_PASSWORD}|" "$CONF_DIR/ari.conf"
    sed -i "s|^bindaddr = 127.0.0.1|bindaddr = 0.0.0.0|" "$CONF_DIR/http.conf"
fi
# The dialplan asks the daemon's FastAGI at its fixed address.
sed -i "s|^HOTLINE_AGI_HOST=.*|HOTLINE_AGI_HOST=${AGI_TARGET}|" "$CONF_DIR/extensions_hotline.conf"
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
exec asterisk -f -vvv
