#!/bin/sh
# Renders Depot's production nginx configuration from nginx/*.in.
#
# Usage:
#   render-production-nginx.sh [--env FILE] OUT_DIR
#       writes OUT_DIR/depot-site.conf, depot-http.conf, depot-server.conf,
#       depot-fastcgi.conf, depot-fastcgi-upload.conf
#   render-production-nginx.sh [--env FILE] --install [--force-site]
#       renders, then installs the four snippets into DEPOT_SNIPPETS_DIR
#       (replacing them: they are Depot's code plus your values) and the site
#       as DEPOT_SITE_FILE. The site is yours to edit: it is replaced only
#       while it is as last rendered (its first line holds the checksum);
#       once edited it is kept and the fresh render goes to DEPOT_SITE_FILE.new
#       (--force-site replaces it anyway, keeping the old one as .old)
#
# Values: the defaults below, then the env file (--env FILE, else
# $DEPOT_NGINX_ENV, else /etc/depot/nginx.env when it exists; see
# nginx/depot-nginx.env.example), then variables set in the environment.
# Installed as /usr/local/lib/depot/render-nginx, with the templates in
# /usr/local/share/depot/nginx. Needs python3 (scripts/render_nginx.py, which
# refuses to leave a placeholder unfilled).
#
# Production differs from the dev stack (scripts/depot_stack.py) in: TLS to
# the store (proxy_ssl_* lines), and HSTS/frame-ancestors on every API answer.
set -eu

die() { echo "render-nginx: error: $*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${DEPOT_NGINX_TEMPLATES:-}" ]; then templates=$DEPOT_NGINX_TEMPLATES
elif [ -f "$here/../nginx/depot-site.conf.in" ]; then templates=$(cd "$here/../nginx" && pwd)
else templates=/usr/local/share/depot/nginx
fi
renderer=$here/render_nginx.py
[ -f "$renderer" ] || die "missing $renderer"
[ -f "$templates/depot-server.conf.in" ] || die "no templates in $templates"
command -v python3 >/dev/null 2>&1 || die "python3 is needed (apt-get install python3)"

env_file=${DEPOT_NGINX_ENV:-}
out=
install=0
force_site=0
while [ $# -gt 0 ]; do
    case $1 in
        --env) [ $# -ge 2 ] || die "--env needs a file"; env_file=$2; shift 2 ;;
        --install) install=1; shift ;;
        --force-site) force_site=1; shift ;;
        -h|--help) sed -n '2,25s/^# \{0,1\}//p' "$0"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) [ -z "$out" ] || die "one OUT_DIR only"; out=$1; shift ;;
    esac
done
[ "$install" = 1 ] || [ -n "$out" ] || die "usage: $0 [--env FILE] OUT_DIR | --install [--force-site]"
if [ -z "$env_file" ] && [ -f /etc/depot/nginx.env ]; then env_file=/etc/depot/nginx.env; fi

VARS="DEPOT_SERVER_NAME DEPOT_TLS_CERT DEPOT_TLS_KEY DEPOT_STORE_ENDPOINT DEPOT_STORE_CA_FILE DEPOT_STORE_SSL_NAME
DEPOT_SOCKET DEPOT_UPLOAD_SOCKET DEPOT_UPLOAD_SLOTS DEPOT_UPLOAD_SLOTS_PER_CLIENT DEPOT_MAX_BODY_SIZE DEPOT_BODY_TEMP_DIR
DEPOT_DOWNLOAD_RATE DEPOT_DOWNLOAD_BURST DEPOT_DOCS_DIR
DEPOT_SNIPPETS_DIR DEPOT_SITE_FILE DEPOT_LOG_DIR"

# The environment wins over the file: remember what it set.
for v in $VARS; do
    eval "if [ \"\${$v+set}\" = set ]; then saved_$v=\$$v; saved_set_$v=1; else saved_set_$v=0; fi"
done

DEPOT_SERVER_NAME=depot.example.com
DEPOT_TLS_CERT=/etc/ssl/depot/fullchain.pem
DEPOT_TLS_KEY=/etc/ssl/depot/privkey.pem
DEPOT_STORE_ENDPOINT=https://minio.example.com:9000
DEPOT_STORE_CA_FILE=
DEPOT_STORE_SSL_NAME=
DEPOT_SOCKET=/run/depot/depot.sock
DEPOT_UPLOAD_SOCKET=/run/depot/upload.sock
DEPOT_UPLOAD_SLOTS=16
DEPOT_UPLOAD_SLOTS_PER_CLIENT=4
DEPOT_MAX_BODY_SIZE=5136m
DEPOT_BODY_TEMP_DIR=/var/lib/nginx/body
DEPOT_DOWNLOAD_RATE=10r/s
DEPOT_DOWNLOAD_BURST=20
DEPOT_DOCS_DIR=/usr/local/share/depot/docs
DEPOT_SNIPPETS_DIR=/etc/nginx/snippets
DEPOT_SITE_FILE=/etc/nginx/sites-available/depot
DEPOT_LOG_DIR=/var/log/nginx

if [ -n "$env_file" ]; then
    [ -r "$env_file" ] || die "cannot read $env_file"
    # shellcheck disable=SC1090
    . "$env_file"
fi
for v in $VARS; do
    eval "if [ \"\$saved_set_$v\" = 1 ]; then $v=\$saved_$v; fi"
done

# The store endpoint: scheme://host[:port][/]
endpoint=${DEPOT_STORE_ENDPOINT%/}
scheme=${endpoint%%://*}
hostport=${endpoint#*://}
case $scheme in https|http) ;; *) die "DEPOT_STORE_ENDPOINT must start with https:// or http:// (got $DEPOT_STORE_ENDPOINT)" ;; esac
case $hostport in ''|*/*) die "DEPOT_STORE_ENDPOINT must be scheme://host[:port] without a path (got $DEPOT_STORE_ENDPOINT)" ;; esac
case $hostport in
    \[*\]:*|[!\[]*:*) host=${hostport%:*}; port=${hostport##*:} ;;
    *) host=$hostport; if [ "$scheme" = https ]; then port=443; else port=80; fi ;;
esac
host_unbracketed=$(printf '%s' "$host" | tr -d '[]')

if [ "$scheme" = https ]; then
    ca=${DEPOT_STORE_CA_FILE:-/etc/ssl/certs/ca-certificates.crt}
    ssl_name=${DEPOT_STORE_SSL_NAME:-$host_unbracketed}
    case $ssl_name in
        *[!0-9.]*) ;;
        *) echo "render-nginx: warning: DEPOT_STORE_SSL_NAME $ssl_name is an IP address; nginx verifies DNS names only, so set a DNS name of the store's certificate" >&2 ;;
    esac
    store_tls="    # The store over HTTPS, its certificate checked against this CA and name.
    proxy_ssl_trusted_certificate $ca;
    proxy_ssl_verify on;
    proxy_ssl_verify_depth 3;
    proxy_ssl_name $ssl_name;
    proxy_ssl_server_name on;
    proxy_ssl_protocols TLSv1.2 TLSv1.3;
    proxy_ssl_session_reuse on;"
else
    echo "render-nginx: warning: the store is plain HTTP; MinIO refuses SSE-C (Depot's encryption) without TLS" >&2
    store_tls="    # The store over plain HTTP: only for a store on this host that accepts SSE-C without TLS."
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
render() {  # render TEMPLATE OUTPUT [SOCKET]
    python3 "$renderer" "$templates/$1" "$tmp/$2" \
        "SERVER_NAME=$DEPOT_SERVER_NAME" "TLS_CERT=$DEPOT_TLS_CERT" "TLS_KEY=$DEPOT_TLS_KEY" \
        "SNIPPETS_DIR=$DEPOT_SNIPPETS_DIR" "SOCKET=${3:-$DEPOT_SOCKET}" "LOG_DIR=$DEPOT_LOG_DIR" \
        "STORE_ADDRESS=$host:$port" "STORE_HOST=$hostport" "STORE_SCHEME=$scheme" "STORE_TLS=$store_tls" \
        "DOCS_DIR=$DEPOT_DOCS_DIR" "BODY_TEMP_DIR=$DEPOT_BODY_TEMP_DIR" "MAX_BODY_SIZE=$DEPOT_MAX_BODY_SIZE" \
        "DOWNLOAD_RATE=$DEPOT_DOWNLOAD_RATE" "DOWNLOAD_BURST=$DEPOT_DOWNLOAD_BURST" \
        "FASTCGI_PARAMS=$DEPOT_SNIPPETS_DIR/depot-fastcgi.conf" \
        "FASTCGI_UPLOAD_PARAMS=$DEPOT_SNIPPETS_DIR/depot-fastcgi-upload.conf" \
        "UPLOAD_SLOTS=$DEPOT_UPLOAD_SLOTS" "UPLOAD_SLOTS_PER_CLIENT=$DEPOT_UPLOAD_SLOTS_PER_CLIENT" \
        || die "rendering $1 failed"
}
render depot-site.conf.in depot-site.conf
render depot-http.conf.in depot-http.conf
render depot-server.conf.in depot-server.conf
render fastcgi_params.in depot-fastcgi.conf
# The same parameters for the upload location, to the upload pool's socket.
render fastcgi_params.in depot-fastcgi-upload.conf "$DEPOT_UPLOAD_SOCKET"
# `add_header` of the site's server block does not reach locations that set
# their own, which every FastCGI location does: repeat the two headers the
# FastCGI parameters do not set yet.
for f in depot-fastcgi.conf depot-fastcgi-upload.conf; do
    cat >>"$tmp/$f" <<'EOF'
# Production (HTTPS): the site's security headers, repeated here because
# nginx does not inherit add_header into a location that has its own.
add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;
add_header Content-Security-Policy "default-src 'none'; frame-ancestors 'none'" always;
EOF
done

if [ "$install" = 0 ]; then
    mkdir -p "$out"
    for f in depot-site.conf depot-http.conf depot-server.conf depot-fastcgi.conf depot-fastcgi-upload.conf; do
        install -m 0644 "$tmp/$f" "$out/$f"
    done
    echo "render-nginx: wrote $out/depot-site.conf and the snippets depot-{http,server,fastcgi,fastcgi-upload}.conf"
    exit 0
fi

mkdir -p "$DEPOT_SNIPPETS_DIR" "$(dirname "$DEPOT_SITE_FILE")"
for f in depot-http.conf depot-server.conf depot-fastcgi.conf depot-fastcgi-upload.conf; do
    install -m 0644 "$tmp/$f" "$DEPOT_SNIPPETS_DIR/$f"
done
echo "render-nginx: installed $DEPOT_SNIPPETS_DIR/depot-{http,server,fastcgi,fastcgi-upload}.conf"

# The site carries the checksum of what was rendered on its first line, so
# an untouched site follows nginx.env and an edited one is never replaced.
marker="# render-nginx sha256="
sum=$(sha256sum <"$tmp/depot-site.conf" | cut -d' ' -f1)
{ echo "$marker$sum (render-nginx replaces this file only while it matches)"; cat "$tmp/depot-site.conf"; } \
    >"$tmp/site"
as_rendered() {
    first=$(head -n 1 "$1")
    case $first in "$marker"*) ;; *) return 1 ;; esac
    want=${first#"$marker"}
    want=${want%% *}
    [ "$(tail -n +2 "$1" | sha256sum | cut -d' ' -f1)" = "$want" ]
}
if [ ! -e "$DEPOT_SITE_FILE" ]; then
    install -m 0644 "$tmp/site" "$DEPOT_SITE_FILE"
    echo "render-nginx: installed $DEPOT_SITE_FILE (not enabled; see the comments at its top)"
elif as_rendered "$DEPOT_SITE_FILE"; then
    if cmp -s "$tmp/site" "$DEPOT_SITE_FILE"; then
        echo "render-nginx: $DEPOT_SITE_FILE is current"
    else
        install -m 0644 "$tmp/site" "$DEPOT_SITE_FILE"
        echo "render-nginx: updated $DEPOT_SITE_FILE (you had not edited it)"
    fi
    rm -f "$DEPOT_SITE_FILE.new"
elif [ "$force_site" = 1 ]; then
    cp -p "$DEPOT_SITE_FILE" "$DEPOT_SITE_FILE.old"
    install -m 0644 "$tmp/site" "$DEPOT_SITE_FILE"
    rm -f "$DEPOT_SITE_FILE.new"
    echo "render-nginx: replaced $DEPOT_SITE_FILE (the previous one is $DEPOT_SITE_FILE.old)"
else
    install -m 0644 "$tmp/site" "$DEPOT_SITE_FILE.new"
    echo "render-nginx: kept your edited $DEPOT_SITE_FILE; the fresh render is $DEPOT_SITE_FILE.new"
fi
