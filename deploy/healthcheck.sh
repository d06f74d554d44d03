#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# The container's health check: exits 0 when RateWatch answers GET /health with 200.
# It needs nothing but bash (the image has no curl). It reads the same variables as the
# server, so configure the container with PORT / RATEWATCH_BIND rather than with flags.
# With TLS_CERT_FILE set there is no TLS client in the image: a port that accepts
# connections is then taken as healthy.
set -u

port=${PORT:-8081}
host=${RATEWATCH_BIND:-127.0.0.1}
case $host in
    0.0.0.0 | "") host=127.0.0.1 ;;
    :: | "[::]") host=::1 ;;
esac

exec 3<>"/dev/tcp/$host/$port" || exit 1
[ -n "${TLS_CERT_FILE:-}" ] && exit 0

printf 'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3 || exit 1
IFS= read -r -t 2 status <&3 || exit 1
case $status in
    "HTTP/1."?" 200 "*) exit 0 ;;
esac
exit 1
