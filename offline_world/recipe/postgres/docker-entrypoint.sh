#!/bin/sh
# Entrypoint of the postgres stand-in, written for it: the behaviour the official image documents.
#  * Started as root, it makes PGDATA and the socket folder the postgres user's, then runs itself
#    again as that user.
#  * With an empty PGDATA it creates the cluster (initdb): superuser POSTGRES_USER (default postgres)
#    with POSTGRES_PASSWORD, database POSTGRES_DB (default: the user's name), password logins over
#    the network (or POSTGRES_HOST_AUTH_METHOD), then runs /docker-entrypoint-initdb.d/*.sql, *.sql.gz
#    and *.sh with a server that listens on no TCP port, and stops it.
#  * With an existing cluster it starts at once: the variables and init scripts are ignored.
set -eu

if [ "${1#-}" != "$1" ]; then  # `docker run postgres:17 -c shared_buffers=256MB`
    set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA"
    chown postgres:postgres /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

init_sql() {
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc --dbname "$POSTGRES_DB" "$@"
}

run_init_files() {
    for file in /docker-entrypoint-initdb.d/*; do
        case "$file" in
            *.sh) echo "$0: running $file"; if [ -x "$file" ]; then "$file"; else . "$file"; fi ;;
            *.sql) echo "$0: running $file"; init_sql -f "$file" ;;
            *.sql.gz) echo "$0: running $file"; gunzip -c "$file" | init_sql ;;
            */\*) ;;  # the folder is empty
            *) echo "$0: ignoring $file" ;;
        esac
    done
}

initialise() {
    export POSTGRES_USER="${POSTGRES_USER:-postgres}"
    export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
    auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
        echo "Error: Database is uninitialized and superuser password is not specified." >&2
        echo "       Set POSTGRES_PASSWORD to a non-empty value (docker run -e POSTGRES_PASSWORD=...)," >&2
        echo "       or POSTGRES_HOST_AUTH_METHOD=trust to allow connections without a password." >&2
        exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS holds several arguments
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" ${POSTGRES_INITDB_ARGS:-}
    rm -f "$pwfile"
    printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"

    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
    export PGPASSWORD="${POSTGRES_PASSWORD:-}"
    if [ "$POSTGRES_DB" != postgres ]; then
        echo 'CREATE DATABASE :"db";' | psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password \
            --no-psqlrc --dbname postgres --set db="$POSTGRES_DB"
    fi
    run_init_files
    pg_ctl -D "$PGDATA" -m fast -w stop
    unset PGPASSWORD
    echo "PostgreSQL init process complete; ready for start up."
}

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    initialise
fi
exec "$@"
