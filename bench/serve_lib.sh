# Sourced by the bench scripts: start an `edgeroute serve` on a free loopback
# port. Needs $bin (the edgeroute binary), $out (a directory) and an array
# pids (every server started is appended, for the caller's cleanup trap).
start() {  # start NAME ARGS... ; sets $port and $last_pid
  local name="$1"; shift
  rm -f "$out/$name.port"
  "$bin" serve "$@" --listen 127.0.0.1:0 --port-file "$out/$name.port" > "$out/$name.log" 2>&1 &
  pids+=($!)
  last_pid=$!
  for _ in $(seq 300); do [ -s "$out/$name.port" ] && break; sleep 0.1; done
  port=$(cat "$out/$name.port")
}
