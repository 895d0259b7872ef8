package nats

import (
	"os"
	"testing"

	"github.com/nats-io/nats.go"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

type natsMsgT = nats.Msg

// natsMsg builds a message with header pairs.
func natsMsg(subject string, data []byte, kv ...string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = data
	for i := 0; i+1 < len(kv); i += 2 {
		m.Header.Set(kv[i], kv[i+1])
	}
	return m
}
