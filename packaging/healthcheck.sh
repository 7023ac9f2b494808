#!/bin/bash
# The container's health probe: PING to ezra over bash's /dev/tcp (the image has no redis-cli),
# after AUTH when EZRA_PASSWORD is set; exit 0 only on +PONG. It reads the same EZRA_HOST,
# EZRA_PORT, EZRA_PASSWORD and EZRA_TLS_CERT as ezra: settings given as flags are not seen here.
set -u
export LC_ALL=C # ${#password} counts bytes, as RESP's length prefix does

host="${EZRA_HOST:-127.0.0.1}"
port="${EZRA_PORT:-42002}"
# A wildcard listener is reached through loopback from inside the container.
case "$host" in 0.0.0.0 | :: | "") host=127.0.0.1 ;; esac

if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
  echo "unhealthy: nothing accepts connections on $host:$port"
  exit 1
fi

# bash cannot speak TLS: with TLS on, an accepted connection is all this probe can check.
if [ -n "${EZRA_TLS_CERT:-}" ]; then
  echo "healthy: $host:$port accepts connections (TLS: PING not sent)"
  exit 0
fi

request=""
if [ -n "${EZRA_PASSWORD:-}" ]; then
  printf -v request '*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n' "${#EZRA_PASSWORD}" "$EZRA_PASSWORD"
fi
request+=$'*1\r\n$4\r\nPING\r\n'
printf '%s' "$request" >&3

reply=""
if [ -n "${EZRA_PASSWORD:-}" ]; then
  IFS= read -r -t 1 reply <&3
  if [ "$reply" != $'+OK\r' ]; then
    echo "unhealthy: AUTH answered ${reply%$'\r'}"
    exit 1
  fi
fi
# One second per reply keeps the whole probe inside the Dockerfile's --timeout=3s.
IFS= read -r -t 1 reply <&3
if [ -z "$reply" ]; then
  echo "unhealthy: no reply to PING within 1 s"
  exit 1
elif [ "$reply" != $'+PONG\r' ]; then
  echo "unhealthy: PING answered ${reply%$'\r'}"
  exit 1
fi
echo "healthy: PONG from $host:$port"
