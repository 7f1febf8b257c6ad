# Helpers for the tests that run `qdeck worker` (sourced after assert.sh).

# worker_plugins DIR: DIR/plugins holds the shipped plugins and the test
# plugins (worker_*.so) of the binary under test, for [worker] plugin_dir.
worker_plugins() {
  local bin_dir
  bin_dir=$(dirname "$QDECK_SAN_BIN")
  mkdir -p "$1/plugins"
  ln -sf "$bin_dir"/plugins/*.so "$bin_dir"/tests/plugins/worker_*.so "$1/plugins/"
}
