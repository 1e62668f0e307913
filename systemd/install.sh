#!/usr/bin/env bash
# Installs linewatch as a systemd service, idempotently: run it again to upgrade.
#   sudo systemd/install.sh            # from a checkout where `make setup` has run
#   PREFIX=/opt/linewatch ETC=/etc/linewatch sudo -E systemd/install.sh
# It creates the linewatch user (in the video group), copies the built tree to $PREFIX, puts an
# example config in $ETC/linewatch.yaml unless one exists, installs the unit and enables it.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/opt/linewatch}
ETC=${ETC:-/etc/linewatch}
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}
USER_NAME=${USER_NAME:-linewatch}

say() { printf 'install: %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "install: run as root (sudo)" >&2; exit 1; }
[ -f "$SRC/dist/src/cli.cjs" ] || { echo "install: $SRC/dist is missing: run 'make setup' first" >&2; exit 1; }

if ! id "$USER_NAME" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$USER_NAME"
  say "user $USER_NAME created"
fi
getent group video >/dev/null && usermod -a -G video "$USER_NAME"

install -d -m 0755 "$PREFIX"
# The code, the model and the node_modules it runs with; state and config stay outside.
for d in dist models node_modules schemas demo config package.json README.md; do
  [ -e "$SRC/$d" ] || continue
  rm -rf "${PREFIX:?}/$d.new"
  cp -a "$SRC/$d" "$PREFIX/$d.new"
  rm -rf "${PREFIX:?}/$d"
  mv "$PREFIX/$d.new" "$PREFIX/$d"
done
chown -R root:root "$PREFIX"
chmod -R go-w "$PREFIX"
say "code in $PREFIX"

install -d -m 0755 "$ETC"
if [ ! -f "$ETC/linewatch.yaml" ]; then
  install -m 0644 "$SRC/config/linewatch.example.yaml" "$ETC/linewatch.yaml"
  say "example config in $ETC/linewatch.yaml: edit it, then: systemctl restart linewatch"
else
  say "kept the existing $ETC/linewatch.yaml"
fi
if [ ! -f "$ETC/mqtt-password" ]; then
  install -m 0600 /dev/null "$ETC/mqtt-password"
  say "empty $ETC/mqtt-password created (read through LoadCredential; put the broker password there)"
fi

sed "s|/opt/linewatch|$PREFIX|g; s|/etc/linewatch/|$ETC/|g" "$SRC/systemd/linewatch.service" > "$UNIT_DIR/linewatch.service.new"
mv "$UNIT_DIR/linewatch.service.new" "$UNIT_DIR/linewatch.service"
chmod 0644 "$UNIT_DIR/linewatch.service"
say "unit in $UNIT_DIR/linewatch.service"

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable linewatch.service
  say "enabled; start it with: systemctl start linewatch; logs: journalctl -u linewatch -f"
else
  say "systemd is not running here: the unit is installed but not enabled"
fi
