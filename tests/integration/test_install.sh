#!/usr/bin/env bash
# make install and make uninstall, as a new user would use them: into
# DESTDIR (the layout, the paths compiled in without DESTDIR) and into a
# scratch PREFIX, then the installed binary run from another directory with
# no theme override: --version, the worker running the noop plugin, the
# console with --theme light, one clear line for an unknown theme; a copy of
# the binary outside the prefix still finds plugins and themes (only the
# compiled-in paths can serve it). The man pages render with man -l, groff
# -ww finds nothing, and they name every command and config key --help and
# --help-config list. The bash completion, scripted (with and without the
# bash-completion package), completes `dl` to dlq, a flag, a theme, a
# context and a queue address; the zsh one parses. make uninstall leaves no
# file. The build under test is the runner's (build-san for the sanitized
# wrapper), and it is rebuilt for the default prefix at the end.
# run.sh: alone (it relinks the build-san/qdeck every other lane runs)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"

T=$QDECK_TEST_TMP/install
rm -rf "$T"; mkdir -p "$T/elsewhere/bin"
bin=$QDECK
[ "$QDECK" = "$QDECK_REPO/tests/lib/qdeck-san" ] && bin=$QDECK_SAN_BIN
build=$(basename "$(dirname "$bin")")
mk=(make -s --no-print-directory -C "$QDECK_REPO" BUILD="$build")
[ "$build" = build-san ] && mk+=(SANITIZE=address,undefined)
restore() { screen_stop_all; "${mk[@]}" all >/dev/null 2>&1; }
trap restore EXIT
unset QDECK_THEME_DIR

# ------------------------------------------------------------ DESTDIR
R=$T/root
check "make install DESTDIR=... PREFIX=/opt/tprefix" "${mk[@]}" install DESTDIR="$R" PREFIX=/opt/tprefix
o=$R/opt/tprefix
for f in bin/qdeck lib/qdeck/plugins/noop.so lib/qdeck/plugins/http.so share/qdeck/themes/light.theme \
         share/man/man1/qdeck.1 share/man/man5/qdeck.conf.5 share/bash-completion/completions/qdeck \
         share/zsh/vendor-completions/_qdeck; do
  check "DESTDIR: $f installed" test -s "$o/$f"
done
check "DESTDIR: the binary is executable" test -x "$o/bin/qdeck"
if [ -n "$(find "$QDECK_REPO/contrib" -type f 2>/dev/null)" ]; then
  expect_eq "DESTDIR: contrib/ (but the packaging, contrib/debian/) installed as it is under share/doc/qdeck/examples" \
    "$(cd "$QDECK_REPO/contrib" && find . -type f ! -path './debian/*' | sort | xargs cat | md5sum)" \
    "$(cd "$o/share/doc/qdeck/examples" && find . -type f | sort | xargs cat | md5sum)"
fi
check "DESTDIR: the plugin directory compiled in is under PREFIX" grep -qaF /opt/tprefix/lib/qdeck/plugins "$o/bin/qdeck"
check "DESTDIR: the theme directory compiled in is under PREFIX" grep -qaF /opt/tprefix/share/qdeck/themes "$o/bin/qdeck"
check "DESTDIR: DESTDIR is not compiled in" bash -c "! grep -qaF '$R' '$o/bin/qdeck'"
check "DESTDIR: the man page names the installed theme directory" grep -qF '/opt/tprefix/share/qdeck/themes' "$o/share/man/man1/qdeck.1"
check "DESTDIR: make uninstall" "${mk[@]}" uninstall DESTDIR="$R" PREFIX=/opt/tprefix
expect_eq "DESTDIR: no file left" "$(find "$R" -type f)" ""
expect_eq "DESTDIR: no qdeck directory left" "$(find "$R" -name '*qdeck*')" ""

# ------------------------------------------------------------ PREFIX
P=$T/prefix
check "make install PREFIX=<scratch>" "${mk[@]}" install PREFIX="$P"
cd "$T/elsewhere" || exit 1
cp "$P/bin/qdeck" "$T/elsewhere/bin/qdeck"
expect_match "--version from another directory" "$("$P/bin/qdeck" --version 2>&1)" '^qdeck [0-9]+\.[0-9]+\.[0-9]+$'

cat >"$T/qdeck.conf" <<CONF
[context inst]
redis = $REDIS_URL
redis_watch = inst

[context other]
redis = $REDIS_URL

[qdeck]
context = inst

[worker]
queues = redis:inst
concurrency = 2

[task t]
handler = noop
CONF
chmod 600 "$T/qdeck.conf"
R1="redis-cli -p $REDIS_PORT"
completed() { for id in $(cat "$1"); do [ "$($R1 hget "qdeck:task:$id" status)" = COMPLETED ] || return 1; done; }
# bin/qdeck in the prefix, then a copy outside it: plugins/ beside neither
n=0
for q in "$P/bin/qdeck" "$T/elsewhere/bin/qdeck"; do
  what=installed; [ "$q" = "$P/bin/qdeck" ] || what="copy outside the prefix"
  n=$((n + 1))
  "$q" --config "$T/qdeck.conf" publish redis:inst --type t --count 5 >"$T/ids" 2>"$T/publish.err"
  expect_eq "$what: published 5 tasks" "$(wc -l <"$T/ids")" 5
  "$q" --config "$T/qdeck.conf" worker >"$T/worker.out" 2>"$T/worker.err" &
  wpid=$!
  check "$what: the worker ran them with the installed noop plugin" wait_for 30 completed "$T/ids"
  kill -TERM "$wpid" 2>/dev/null
  wait "$wpid"; expect_eq "$what: the worker stops on SIGTERM with 0" "$?" 0
  expect_nomatch "$what: no error or warning from the worker" "$(cat "$T/worker.err")" 'cannot load|refused| (error|warn) '

  screen_start "light$n" "cd '$T/elsewhere' && '$q' --redis '$REDIS_URL' --theme light --refresh 0.2 --iterations 3"
  expect_eq "$what: --theme light runs the console (3 refreshes, exit 0)" "$(screen_exit_status "light$n" 20)" 0
  err=$("$q" --redis "$REDIS_URL" --theme nosuch 2>&1 >/dev/null </dev/null); rc=$?
  expect_eq "$what: an unknown theme exits 2" "$rc" 2
  expect_eq "$what: an unknown theme is one line" "$(wc -l <<<"$err")" 1
  expect_match "$what: the line names the theme and the installed directory" "$err" \
    "^qdeck: no theme 'nosuch' .*$P/share/qdeck/themes"
done

# ------------------------------------------------------------ man pages
for page in man1/qdeck.1 man5/qdeck.conf.5; do
  f=$P/share/man/$page
  out=$(LANG=C.UTF-8 MANWIDTH=100 man -l "$f" 2>"$T/man.err"); rc=$?
  expect_eq "man -l $page renders (exit 0)" "$rc" 0
  expect_eq "man -l $page: nothing on stderr" "$(cat "$T/man.err")" ""
  expect_eq "groff -ww -z -man $page: no warning" "$(groff -ww -z -man "$f" 2>&1)" ""
  [ "$page" = man1/qdeck.1 ] && man1=$out || man5=$out
done
expect_match "qdeck(1) has the exit status section" "$man1" '^EXIT STATUS'
expect_match "qdeck(1) lists the console keys" "$man1" '^KEYS'
missing=""
for c in $("$P/bin/qdeck" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
  grep -qE "^   $c( |$)" <<<"$man1" || missing+=" $c"
done
expect_eq "qdeck(1) has a section for every command of --help" "$missing" ""
missing=""
for k in $("$P/bin/qdeck" --help-config | awk '/^  / { print $1 }'); do
  grep -qE "^       $k \(" <<<"$man5" || missing+=" $k"
done
expect_eq "qdeck.conf(5) describes every key of --help-config" "$missing" ""
expect_nomatch "the hidden commands are not in qdeck(1)" "$man1" '_doc|_complete'

# ------------------------------------------------------------ completions
comp=$P/share/bash-completion/completions/qdeck
# complete WORDS...: the completions of the last word, one line, as bash gives them
complete_plain() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _qdeck; echo "${COMPREPLY[*]}"' _ "$comp" "$@"
}
complete_framework() {
  bash -c 'source /usr/share/bash-completion/bash_completion; source "$1"; shift
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _qdeck
    echo "${COMPREPLY[*]}"' _ "$comp" "$@"
}
q=$P/bin/qdeck
expect_eq "bash: qdeck dl<TAB> gives dlq" "$(complete_plain "$q" dl)" dlq
expect_eq "bash: qdeck dlq re<TAB> gives replay" "$(complete_plain "$q" dlq re)" replay
expect_eq "bash: qdeck status --js<TAB> gives --json" "$(complete_plain "$q" status --js)" --json
expect_eq "bash: a subcommand's flag (dlq replay --dr)" "$(complete_plain "$q" dlq replay q --dr)" --dry-run
expect_eq "bash: a global flag after the command (status --rea)" "$(complete_plain "$q" status --rea)" --read-only
expect_eq "bash: --theme li<TAB> gives light (installed themes)" "$(complete_plain "$q" --theme li)" light
expect_eq "bash: --context from the config given on the line" \
  "$(complete_plain "$q" --config "$T/qdeck.conf" --context '')" "inst other"
expect_eq "bash: --context o<TAB> gives other" "$(complete_plain "$q" --config "$T/qdeck.conf" --context o)" other
expect_match "bash: queue addresses after the command, with the line's --config" \
  "$(complete_plain "$q" --config "$T/qdeck.conf" --context inst dlq list '')" '(^| )redis:inst( |$)'

expect_match "bash: queue addresses from status --json" \
  "$(complete_plain "$q" --config "$T/qdeck.conf" publish '')" '(^| )redis:inst( |$)'
# a Redis that accepts the connection and never answers: Tab gives up
# within status's 2 s budget, offering nothing
python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(120)' >"$T/hung.port" &
hung=$!
wait_for 10 test -s "$T/hung.port"
printf '[context hung]\nredis = redis://127.0.0.1:%s\n' "$(cat "$T/hung.port")" >"$T/hung.conf"
t0=${EPOCHREALTIME/./}
got=$(complete_plain "$q" --config "$T/hung.conf" publish '')
ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
kill "$hung" 2>/dev/null; wait "$hung" 2>/dev/null
expect_eq "bash: a broker that does not answer: no queue offered" "$got" ""
check "bash: ... and Tab returns within 4 s (took $ms ms)" test "$ms" -lt 4000
expect_eq "bash-completion loaded: qdeck dl<TAB> gives dlq" "$(complete_framework "$q" dl)" dlq
expect_eq "bash-completion loaded: --theme hi<TAB> gives high-contrast" "$(complete_framework "$q" --theme hi)" high-contrast
expect_eq "bash-completion loaded: redis:in<TAB> completes past the colon" \
  "$(complete_framework "$q" --config "$T/qdeck.conf" dlq list redis:in)" inst
check "zsh: the completion parses" zsh -n "$P/share/zsh/vendor-completions/_qdeck"
# a real zsh in tmux, the installed function on its fpath, Tab pressed
mkdir -p "$T/zhome"
screen_start zsh "cd '$T/elsewhere' && env -i HOME='$T/zhome' TERM=xterm PATH='$P/bin:/usr/bin:/bin' zsh -f"
screen_keys zsh "fpath=('$P/share/zsh/vendor-completions' \$fpath); autoload -Uz compinit; compinit -u -D; PS1='ZP> '" Enter
check "zsh: compinit loads it" screen_wait zsh 10 '^ZP>$'
screen_keys zsh "qdeck --config $T/qdeck.conf publish redis:i" Tab
check "zsh: a queue address from status --json, with the line's --config" \
  screen_wait zsh 10 '^ZP> qdeck --config .*qdeck\.conf publish redis:inst ?$'
screen_keys zsh C-u "qdeck dl" Tab
check "zsh: qdeck dl<TAB> gives dlq" screen_wait zsh 10 '^ZP> qdeck dlq ?$'
screen_keys zsh "re" Tab
check "zsh: qdeck dlq re<TAB> gives replay" screen_wait zsh 10 '^ZP> qdeck dlq replay ?$'
screen_keys zsh C-u "qdeck status --js" Tab
check "zsh: status --js<TAB> gives --json" screen_wait zsh 10 '^ZP> qdeck status --json ?$'
screen_keys zsh C-u "qdeck --theme li" Tab
check "zsh: --theme li<TAB> gives light" screen_wait zsh 10 '^ZP> qdeck --theme light ?$'
screen_keys zsh C-u "qdeck --config $T/qdeck.conf --context ot" Tab
check "zsh: --context ot<TAB> gives other, from the config on the line" \
  screen_wait zsh 10 '^ZP> qdeck --config .*qdeck\.conf --context other ?$'
screen_keys zsh C-u "exit" Enter

# ------------------------------------------------------------ uninstall
cd "$T" || exit 1
check "make uninstall PREFIX=<scratch>" "${mk[@]}" uninstall PREFIX="$P"
expect_eq "no file left in the prefix" "$(find "$P" -type f)" ""
expect_eq "no qdeck directory left in the prefix" "$(find "$P" -name '*qdeck*')" ""

finish
