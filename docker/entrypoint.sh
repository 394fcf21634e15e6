#!/bin/sh
# SentryKV container entrypoint, modelled on the official redis image's.
#
#   docker run sentrykv                          -> sentrykv-server --bind 0.0.0.0 --dir /data
#   docker run sentrykv --appendfsync always     -> sentrykv-server --appendfsync always
#   docker run sentrykv /usr/local/etc/sentrykv/sentrykv.conf -> sentrykv-server <that file>
#   docker run sentrykv sentrykv-cli -h host ... -> runs the CLI as given
#
# Environment (only applied when the command is sentrykv-server):
#   SENTRYKV_PASSWORD       adds --requirepass "$SENTRYKV_PASSWORD"
#   SENTRYKV_PASSWORD_FILE  same, read from a file (docker/compose secrets); wins over the above
#   SENTRYKV_PORT           adds --port "$SENTRYKV_PORT" (the health check uses it too)
#
# Like the redis image, protected mode is off unless the command line or the config file
# sets protected-mode (see below).
set -eu

# Options or a config file alone mean "run the server with these".
if [ "${1#-}" != "${1:-}" ] || [ "${1%.conf}" != "${1:-}" ]; then
    set -- sentrykv-server "$@"
fi

if [ "${1:-}" = "sentrykv-server" ]; then
    # Keep data files private unless the operator picked a umask on purpose (as the redis image does).
    if [ "$(umask)" = "0022" ]; then
        umask 0077
    fi

    password=""
    if [ -n "${SENTRYKV_PASSWORD_FILE:-}" ]; then
        if [ ! -r "$SENTRYKV_PASSWORD_FILE" ]; then
            echo "docker-entrypoint.sh: cannot read SENTRYKV_PASSWORD_FILE=$SENTRYKV_PASSWORD_FILE" >&2
            exit 1
        fi
        password="$(cat "$SENTRYKV_PASSWORD_FILE")"
    elif [ -n "${SENTRYKV_PASSWORD:-}" ]; then
        password="$SENTRYKV_PASSWORD"
    fi
    # As in the official redis image (built with protected mode off): a container's port is
    # reachable only where it is published, and protected mode would refuse every client
    # from outside the container while the default user has no password.  So it is off
    # unless the command line or the config file (the argument after sentrykv-server) sets it.
    protected_mode_given=""
    for arg in "$@"; do
        if [ "$arg" = "--protected-mode" ]; then
            protected_mode_given=yes
        fi
    done
    if [ -z "$protected_mode_given" ] && [ "${2:-}" != "" ] && [ "${2#-}" = "$2" ] && [ -r "$2" ] \
        && grep -Eiq '^[[:space:]]*protected-mode[[:space:]]' "$2"; then
        protected_mode_given=yes
    fi
    if [ -z "$protected_mode_given" ]; then
        set -- "$@" --protected-mode no
    fi
    # Options given later on the command line override the config file, so these always apply.
    if [ -n "$password" ]; then
        set -- "$@" --requirepass "$password"
    fi
    if [ -n "${SENTRYKV_PORT:-}" ]; then
        set -- "$@" --port "$SENTRYKV_PORT"
    fi
fi

exec "$@"
