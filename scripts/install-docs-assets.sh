#!/usr/bin/env bash
# Installs Depot's API docs into DEST_DIR, the folder nginx serves them from:
#
#   DEST_DIR/index.html                      -> GET /docs
#   DEST_DIR/assets/swagger-ui-bundle.js     -> GET /docs/assets/swagger-ui-bundle.js
#   DEST_DIR/assets/swagger-ui.css           -> GET /docs/assets/swagger-ui.css
#   DEST_DIR/assets/favicon-32x32.png        -> GET /docs/assets/favicon-32x32.png
#   DEST_DIR/assets/swagger-initializer.js   -> GET /docs/assets/swagger-initializer.js
#   DEST_DIR/openapi.json                    -> GET /openapi.json
#   DEST_DIR/openapi.yaml                    -> GET /openapi.yaml
#   DEST_DIR/console/…                       -> GET /console/ (docs/console)
#   DEST_DIR/console/vendor/chart.min.js     -> a symlink to Debian's libjs-chart.js
#
# Swagger UI 5.x (the first major version that renders OpenAPI 3.1) comes
# from the PyPI package drf-spectacular-sidecar, which ships the
# swagger-ui-dist files as package data. It is installed with --no-deps into a
# private --target folder (so Debian's "externally managed" system Python is
# never touched); nothing of it is imported, only its static files are copied.
#
# Idempotent: running it again re-copies the same files.
# Usage: scripts/install-docs-assets.sh DEST_DIR
# Environment:
#   DEPOT_DOCS_CACHE  where pip packages are kept
#                     (default: ${XDG_CACHE_HOME:-$HOME/.cache}/depot/docs-assets)
#   PYTHON            the Python interpreter (default: python3)
#   CHART_JS          Chart.js (default: /usr/share/javascript/chart.js/chart.min.js)
set -euo pipefail

SIDECAR_PACKAGE="drf-spectacular-sidecar"
SIDECAR_VERSION="2026.10.1"           # ships swagger-ui-dist 5.33.1
SIDECAR_DIST="drf_spectacular_sidecar/static/drf_spectacular_sidecar/swagger-ui-dist"
PYYAML_VERSION="6.0.3"                # only installed when `import yaml` fails
ASSETS=(swagger-ui-bundle.js swagger-ui.css favicon-32x32.png)

die() { echo "install-docs-assets: error: $*" >&2; exit 1; }
log() { echo "install-docs-assets: $*"; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: $0 DEST_DIR"
DEST=$1

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOCS="$REPO_ROOT/docs"
for f in index.html swagger-initializer.js openapi.yaml; do
  [ -f "$DOCS/$f" ] || die "missing $DOCS/$f"
done

PYTHON=${PYTHON:-python3}
CHART_JS=${CHART_JS:-/usr/share/javascript/chart.js/chart.min.js}
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (on Debian: apt-get install -y python3)"

CACHE=${DEPOT_DOCS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/depot/docs-assets}

pip_target_install() {  # pip_target_install TARGET_DIR REQUIREMENT
  "$PYTHON" -m pip --version >/dev/null 2>&1 \
    || die "pip is not available for $PYTHON (on Debian: apt-get install -y python3-pip)"
  local tmp="$1.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if ! "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore \
        --no-deps --no-compile --target "$tmp" "$2"; then
    rm -rf "$tmp"
    die "pip could not install $2 (is PyPI reachable?)"
  fi
  rm -rf "$1"
  mv "$tmp" "$1"
}

# --- Swagger UI dist files ----------------------------------------------------
# Use the package if this Python already has the pinned version, else the
# private target folder, installing it there when missing.
SRC=$("$PYTHON" - "$SIDECAR_PACKAGE" "$SIDECAR_VERSION" "$SIDECAR_DIST" <<'EOF' 2>/dev/null || true
import sys, os
from importlib import metadata
name, version, rel = sys.argv[1:4]
try:
    dist = metadata.distribution(name)
except metadata.PackageNotFoundError:
    sys.exit(0)
if dist.version == version:
    path = os.path.join(str(dist.locate_file("")), rel)
    if os.path.isdir(path):
        print(path)
EOF
)
if [ -z "$SRC" ]; then
  TARGET="$CACHE/$SIDECAR_PACKAGE-$SIDECAR_VERSION"
  SRC="$TARGET/$SIDECAR_DIST"
  if [ ! -f "$SRC/swagger-ui-bundle.js" ]; then
    log "installing $SIDECAR_PACKAGE==$SIDECAR_VERSION into $TARGET"
    pip_target_install "$TARGET" "$SIDECAR_PACKAGE==$SIDECAR_VERSION"
  fi
fi
for f in "${ASSETS[@]}"; do
  [ -s "$SRC/$f" ] || die "$SIDECAR_PACKAGE $SIDECAR_VERSION has no $SIDECAR_DIST/$f"
done
UI_VERSION=$(grep -o 'PACKAGE_VERSION:"[0-9][0-9.]*"' "$SRC/swagger-ui-bundle.js" | head -n1 | tr -dc '0-9.' || true)
case "$UI_VERSION" in
  [5-9].*) ;;
  *) die "Swagger UI in $SRC is '${UI_VERSION:-unknown}', need 5.x or later for OpenAPI 3.1" ;;
esac

# --- PyYAML, for openapi.yaml -> openapi.json ---------------------------------
PYPATH_EXTRA=""
if ! "$PYTHON" -c 'import yaml' >/dev/null 2>&1; then
  YAML_TARGET="$CACHE/PyYAML-$PYYAML_VERSION-py$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if ! PYTHONPATH="$YAML_TARGET" "$PYTHON" -c 'import yaml' >/dev/null 2>&1; then
    log "installing PyYAML==$PYYAML_VERSION into $YAML_TARGET"
    pip_target_install "$YAML_TARGET" "PyYAML==$PYYAML_VERSION"
  fi
  PYPATH_EXTRA=$YAML_TARGET
fi

# --- Build into a staging folder, then move into place ------------------------
mkdir -p "$DEST" || die "cannot create $DEST"
DEST=$(cd "$DEST" && pwd)
STAGE=$(mktemp -d "$DEST/.install-docs.XXXXXX") || die "cannot write to $DEST"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/assets"

for f in "${ASSETS[@]}"; do
  cp "$SRC/$f" "$STAGE/assets/$f"
done
cp "$DOCS/swagger-initializer.js" "$STAGE/assets/swagger-initializer.js"
cp "$DOCS/index.html" "$STAGE/index.html"
cp "$DOCS/openapi.yaml" "$STAGE/openapi.yaml"

PYTHONPATH="$PYPATH_EXTRA${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" - "$DOCS/openapi.yaml" "$STAGE/openapi.json" <<'EOF' \
  || die "could not convert docs/openapi.yaml to JSON"
import json, sys
import yaml

class Loader(yaml.SafeLoader):
    pass

# Keep timestamps as the strings they are written as (JSON has no dates).
Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

src, dst = sys.argv[1:3]
with open(src, encoding="utf-8") as f:
    doc = yaml.load(f, Loader=Loader)
if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3.1"):
    sys.exit(f"{src} is not an OpenAPI 3.1 document")
with open(dst, "w", encoding="utf-8") as f:
    json.dump(doc, f, indent=2, ensure_ascii=False)
    f.write("\n")
EOF

chmod 0644 "$STAGE/index.html" "$STAGE/openapi.json" "$STAGE/openapi.yaml" "$STAGE"/assets/*
mkdir -p "$DEST/assets"
for f in "${ASSETS[@]}" swagger-initializer.js; do
  mv -f "$STAGE/assets/$f" "$DEST/assets/$f"
done
for f in index.html openapi.json openapi.yaml; do
  mv -f "$STAGE/$f" "$DEST/$f"
done
chmod 0755 "$DEST/assets" 2>/dev/null || true

# --- The console (GET /console/) ----------------------------------------------
# Its own files, plus Chart.js from Debian's libjs-chart.js as a symlink (the
# Debian way for shared JavaScript); without it the console shows tables only.
mkdir -p "$DEST/console/vendor"
for f in "$DOCS"/console/*.html "$DOCS"/console/*.js "$DOCS"/console/*.css; do
  install -m 0644 "$f" "$DEST/console/$(basename "$f")"
done
chmod 0755 "$DEST/console" "$DEST/console/vendor"
ln -sfn "$CHART_JS" "$DEST/console/vendor/chart.min.js"
[ -f "$CHART_JS" ] || log "warning: $CHART_JS missing (apt-get install libjs-chart.js): the console's charts are off"

log "installed Swagger UI $UI_VERSION and the OpenAPI document into $DEST"
