#!/usr/bin/env bash
# A TLS-only PostgreSQL for tests/tls.test.ts: a second cluster of the installed PostgreSQL (port
# 5439 by default) whose pg_hba.conf accepts TLS connections (trust) and rejects all others, with a
# server certificate for `localhost` (DNS name only: connecting to 127.0.0.1 fails the host-name
# check on purpose) signed by a throw-away test CA.
#
# Idempotent: run it any number of times (root, Debian's postgresql-common). It creates what is
# missing, (re)starts the cluster and checks a verify-full connection. On stdout it prints only the
# environment the tests read, so CI can do `eval "$(bash scripts/ci/tls-postgres.sh)"`:
#   TEST_TLS_DATABASE_URL  postgresql://postgres@localhost:<port>/postgres (no TLS parameters)
#   TEST_TLS_CA_FILE       the CA certificate (PEM) that signed the server's certificate
# Settings: TLS_PG_PORT (5439), TLS_PG_CERT_DIR (/var/tmp/hm-tls-postgres), TLS_PG_CLUSTER (tls).
set -euo pipefail

PORT="${TLS_PG_PORT:-5439}"
CERTS="${TLS_PG_CERT_DIR:-/var/tmp/hm-tls-postgres}"
CLUSTER="${TLS_PG_CLUSTER:-tls}"
log() { printf 'tls-postgres: %s\n' "$*" >&2; }

command -v pg_createcluster >/dev/null || { log "pg_createcluster not found (install postgresql)"; exit 1; }
command -v openssl >/dev/null || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >&2; }
# The newest installed major version (15 on Debian 12, 17 on Debian 13).
VERSION="$(ls /etc/postgresql | sort -V | tail -1)"
[ -n "$VERSION" ] || { log "no PostgreSQL version under /etc/postgresql"; exit 1; }
CONF="/etc/postgresql/${VERSION}/${CLUSTER}"

# 1. Test CA and server certificate, kept between runs (renewed when missing or about to expire).
mkdir -p "$CERTS"
chmod 755 "$CERTS"
if ! openssl x509 -checkend 86400 -noout -in "$CERTS/server.crt" >/dev/null 2>&1 \
  || ! openssl verify -CAfile "$CERTS/ca.crt" "$CERTS/server.crt" >/dev/null 2>&1; then
  log "creating a test CA and a server certificate for localhost in $CERTS"
  (
    cd "$CERTS"
    openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 -subj '/CN=health-management-api test CA' \
      -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -new -nodes -newkey rsa:2048 -sha256 -subj '/CN=localhost' -keyout server.key -out server.csr 2>/dev/null
    printf '%s\n' 'subjectAltName=DNS:localhost' 'basicConstraints=CA:FALSE' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' >server.ext
    openssl x509 -req -sha256 -days 825 -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -extfile server.ext -out server.crt 2>/dev/null
    rm -f server.csr server.ext ca.srl
    chmod 600 ca.key server.key
    chmod 644 ca.crt server.crt
  )
fi

# 2. The cluster (created once; its configuration rewritten every run).
if ! pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c { found = 1 } END { exit !found }'; then
  log "creating cluster $VERSION/$CLUSTER on port $PORT"
  pg_createcluster -p "$PORT" "$VERSION" "$CLUSTER" >&2
fi
PORT="$(pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c { print $3 }')"

# PostgreSQL refuses a key readable by others, or not owned by the server's user.
install -o postgres -g postgres -m 644 "$CERTS/server.crt" "$CONF/tls-server.crt"
install -o postgres -g postgres -m 600 "$CERTS/server.key" "$CONF/tls-server.key"
mkdir -p "$CONF/conf.d"
cat >"$CONF/conf.d/tls-only.conf" <<EOF
# Written by scripts/ci/tls-postgres.sh (health-management-api tests).
listen_addresses = 'localhost'
ssl = on
ssl_cert_file = '$CONF/tls-server.crt'
ssl_key_file = '$CONF/tls-server.key'
ssl_ca_file = ''
EOF
cat >"$CONF/pg_hba.conf" <<'EOF'
# Written by scripts/ci/tls-postgres.sh: TLS or nothing over TCP (tests only: trust, no password).
local     all  all                peer
hostssl   all  all  127.0.0.1/32  trust
hostssl   all  all  ::1/128       trust
hostnossl all  all  0.0.0.0/0     reject
hostnossl all  all  ::/0          reject
EOF
chown -R postgres:postgres "$CONF"

# 3. Running, with this configuration. A running cluster is reloaded, not restarted (certificate
# and pg_hba.conf changes take effect on reload), so tests connected to it are not cut off.
if pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c && $4 == "online" { found = 1 } END { exit !found }'; then
  pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$CLUSTER" reload >&2
else
  pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$CLUSTER" start >&2
fi
for _ in $(seq 1 30); do
  pg_isready -q -h localhost -p "$PORT" && break
  sleep 1
done

# 4. Check what the tests rely on: verify-full works for localhost, plain TCP is refused.
URL="postgresql://postgres@localhost:${PORT}/postgres"
if [ "$(psql -XAtq "${URL}?sslmode=verify-full&sslrootcert=${CERTS}/ca.crt" -c 'select ssl from pg_stat_ssl where pid = pg_backend_pid()')" != "t" ]; then
  log "the cluster does not accept a verify-full TLS connection"
  exit 1
fi
if psql -XAtq "${URL}?sslmode=disable" -c 'select 1' >/dev/null 2>&1; then
  log "the cluster accepts connections without TLS"
  exit 1
fi
log "PostgreSQL $VERSION/$CLUSTER accepts TLS only, on port $PORT"

printf 'export TEST_TLS_DATABASE_URL=%q\n' "$URL"
printf 'export TEST_TLS_CA_FILE=%q\n' "$CERTS/ca.crt"
