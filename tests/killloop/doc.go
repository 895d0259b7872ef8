// Package killloop holds the kill -9 loop of the disk buffer: `weir run`
// (the real binary) moves events from a NATS JetStream stream through a
// disk buffer into another stream, and is killed with SIGKILL again and
// again under steady load while the NATS server is restarted twice; a
// checker then reads the output stream back and prints the ledger. It has
// only tests: go test ./tests/killloop (WEIR_KILL_LOOPS=N for more kills;
// make kill-loop runs a longer variant).
package killloop
