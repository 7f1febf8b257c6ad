#!/usr/bin/env bash
# `make deb` builds a Debian package (debhelper, packaging in
# contrib/debian/) that holds the same files as `make install PREFIX=/usr`,
# depends on runtime libraries only, draws no lintian error, and whose
# binary runs. Building it compiles the tree once more with Debian's flags:
# about a minute of this suite.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"

T=$QDECK_TEST_TMP/deb
mkdir -p "$T"
repo=$QDECK_REPO
version=$(sed -n 's/^#define QDECK_VERSION "\(.*\)"/\1/p' "$repo/src/cli/app.h")
rm -f "$repo"/build/qdeck_"$version"_*.deb

check "make deb" make -C "$repo" --no-print-directory deb
deb=$(ls "$repo"/build/qdeck_"$version"_*.deb 2>/dev/null | head -1)
expect_match "the .deb is in build/" "$deb" "/build/qdeck_${version}_[a-z0-9]+\.deb$"
expect_eq "no debian/ directory at the top of the tree" "$(ls -d "$repo/debian" 2>/dev/null)" ""

# make install in the tree make deb built (build/deb/qdeck-VERSION/, built
# with PREFIX=/usr): nothing is compiled again, and the tree under test
# keeps its own build/
scratch=$repo/build/deb/qdeck-$version
check "make install DESTDIR=... PREFIX=/usr" \
  make -C "$scratch" --no-print-directory install DESTDIR="$T/root" PREFIX=/usr
# files and symlinks, as /usr/...; dh_compress gzips man pages and the
# changelog, so names are compared without .gz
(cd "$T/root" && find . ! -type d | sed 's#^\.##; s#\.gz$##' | sort) >"$T/install.list"
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sed 's#^\.##; s#\.gz$##' \
  | grep -vxE '/usr/share/doc/qdeck/(copyright|changelog(\.Debian)?)' | sort >"$T/deb.list"
expect_match "make install installed the binary" "$(cat "$T/install.list")" '^/usr/bin/qdeck$'
expect_eq "the package holds exactly what make install installs (besides copyright, changelog)" \
  "$(diff "$T/install.list" "$T/deb.list")" ""

depends=$(dpkg-deb -f "$deb" Depends)
for lib in librabbitmq libhiredis libcurl libcjson libinih libmicrohttpd libncursesw; do
  expect_match "depends on $lib (runtime)" "$depends" "(^|, )$lib[0-9.]+ "
done
expect_nomatch "depends on no -dev package" "$(tr ',' '\n' <<<"$depends")" '-dev\b'

lint=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -v 'running with root privileges')
[ -z "$lint" ] || sed 's/^/    lintian: /' <<<"$lint"
expect_nomatch "lintian: no error" "$lint" '^E: '

dpkg-deb -x "$deb" "$T/x"
expect_eq "the packaged binary runs" "$("$T/x/usr/bin/qdeck" --version 2>&1)" "qdeck $version"
expect_match "the packaged binary looks for plugins and themes under /usr" \
  "$(grep -aoE '/usr/(lib|share)/qdeck/(plugins|themes)' "$T/x/usr/bin/qdeck" | sort -u | paste -sd' ')" \
  '^/usr/lib/qdeck/plugins /usr/share/qdeck/themes$'

finish
