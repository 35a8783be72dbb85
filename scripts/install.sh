#!/usr/bin/env bash
# `make install`: installs eclat and eclatd (release build), eclatd's systemd unit, shell
# completions (bash, zsh, fish) and man pages generated from the command lines' clap
# definitions, under DESTDIR/PREFIX (PREFIX defaults to /usr/local).
#
#   PREFIX=/usr/local  DESTDIR=  CARGO=cargo
#   SYSTEMD_UNIT_DIR=PREFIX/lib/systemd/system (systemd reads /usr/local/lib/systemd/system)
#
# It builds nothing but eclat and eclatd, and runs them only to generate completions and man
# pages; it does not enable or start the service (`systemctl enable --now eclatd` does).
set -euo pipefail
# `make install DESTDIR=…` passes its variables down to every make below it through MAKEFLAGS;
# libbpf-sys builds libbpf with `make install DESTDIR=OUT_DIR`, which would then install libbpf
# into our DESTDIR instead of its OUT_DIR. This script has them in its environment already.
unset MAKEFLAGS MFLAGS MAKEOVERRIDES MAKELEVEL

root=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
CARGO=${CARGO:-cargo}
SYSTEMD_UNIT_DIR=${SYSTEMD_UNIT_DIR:-$PREFIX/lib/systemd/system}
dest=$DESTDIR$PREFIX

(cd "$root" && "$CARGO" build --release --locked -p eclat -p eclatd)
bin=$root/target/release

install -d "$dest/bin"
install -m 0755 "$bin/eclat" "$bin/eclatd" "$dest/bin/"

install -d "$DESTDIR$SYSTEMD_UNIT_DIR"
sed "s|@BINDIR@|$PREFIX/bin|g" "$root/packaging/eclatd.service" > "$DESTDIR$SYSTEMD_UNIT_DIR/eclatd.service"
chmod 0644 "$DESTDIR$SYSTEMD_UNIT_DIR/eclatd.service"

install -d "$dest/share/bash-completion/completions" "$dest/share/zsh/site-functions" \
  "$dest/share/fish/vendor_completions.d"
"$bin/eclat" completions bash > "$dest/share/bash-completion/completions/eclat"
"$bin/eclat" completions zsh > "$dest/share/zsh/site-functions/_eclat"
"$bin/eclat" completions fish > "$dest/share/fish/vendor_completions.d/eclat.fish"

install -d "$dest/share/man/man1"
"$bin/eclat" man "$dest/share/man/man1"
"$bin/eclatd" --write-man "$dest/share/man/man1"

echo "install: eclat and eclatd in $dest/bin, the unit in $DESTDIR$SYSTEMD_UNIT_DIR/eclatd.service"
