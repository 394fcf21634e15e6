#!/bin/sh
# Docker HEALTHCHECK for SentryKV: healthy when the server answers PING with PONG.
#
# Uses the same environment as docker-entrypoint.sh (SENTRYKV_PASSWORD[_FILE],
# SENTRYKV_PORT). Docker reads exit 0 as healthy and 1 as unhealthy (2 is
# reserved), so sentrykv-cli's own exit codes (2 usage, 3 cannot connect) are
# folded into 1 here.
set -u

auth=""
if [ -n "${SENTRYKV_PASSWORD_FILE:-}" ] && [ -r "$SENTRYKV_PASSWORD_FILE" ]; then
    auth="$(cat "$SENTRYKV_PASSWORD_FILE")"
elif [ -n "${SENTRYKV_PASSWORD:-}" ]; then
    auth="$SENTRYKV_PASSWORD"
fi

# The password travels in the environment, not on the command line (ps would show it).
reply="$(SENTRYKV_CLI_AUTH="$auth" sentrykv-cli -h "${SENTRYKV_HEALTHCHECK_HOST:-127.0.0.1}" \
    -p "${SENTRYKV_PORT:-6379}" -t 3 --raw ping 2>&1)"
echo "$reply"
if [ "$reply" = "PONG" ]; then
    exit 0
fi
exit 1
