package isolate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Ops on the submission ring. Entry fields by op:
//
//	create   A: config length (config at the control area)
//	connect  A: attempt
//	poll     A: capacity, B: arena size, C: batch id, D: timeout in ns
//	write    A: len, B: arena bytes in use, C: batch id (descriptors in the
//	         data area already point at the child's mapping)
//	process  as write
//	ack/fail A: batch id; no completion
//
// A completion carries the op's tag, its status and in D the length of an
// error message at the control area; a poll's completion also has A: len,
// B: arena bytes used, C: bytes copied after the arena.
const (
	opCreate uint32 = iota + 1
	opConnect
	opStart
	opPause
	opResume
	opDrain
	opStop
	opDestroy
	opPoll
	opWrite
	opProcess
	opAck
	opFail
	opCount
)

var opNames = [...]string{
	opCreate: "create", opConnect: "connect", opStart: "start", opPause: "pause", opResume: "resume",
	opDrain: "drain", opStop: "stop", opDestroy: "destroy", opPoll: "poll", opWrite: "write",
	opProcess: "process", opAck: "ack", opFail: "fail",
}

func opName(op uint32) string {
	if op > 0 && op < opCount {
		return opNames[op]
	}
	return fmt.Sprintf("op %d", op)
}

// Messages on the socket, child to host: a 4-byte little-endian length of
// what follows, a type byte, then the payload.
const (
	msgReady   = 'R' // JSON childStatus
	msgFatal   = 'E' // text: why the child could not start
	msgLog     = 'L' // int32 level, text
	msgMetric  = 'M' // int32 id, int32 kind, uint32 name length, name, help
	msgValues  = 'C' // repeated int32 id, int32 kind, int64 value (counter delta or gauge value)
	msgWakeup  = 'W'
	maxMessage = 1 << 20
)

var errBadMessage = errors.New("malformed message from the plugin host")

func writeMsg(w io.Writer, typ byte, payload []byte) error {
	buf := make([]byte, 5+len(payload))
	binary.LittleEndian.PutUint32(buf, uint32(1+len(payload)))
	buf[4] = typ
	copy(buf[5:], payload)
	_, err := w.Write(buf)
	return err
}

func readMsg(r io.Reader, buf []byte) (byte, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n == 0 || n > maxMessage {
		return 0, nil, fmt.Errorf("%w: length %d", errBadMessage, n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return buf[0], buf[1:], nil
}

// childStatus is what the child reports once it is ready.
type childStatus struct {
	// Base is the address of the shared region in the child.
	Base uint64 `json:"base"`
	// Library and Version name the plugin as its descriptor does.
	Library string `json:"library"`
	Version string `json:"version"`
	// Caps are the child's capability lines from /proc/self/status.
	Caps map[string]string `json:"caps"`
	// NoNewPrivs and Seccomp are those lines of /proc/self/status.
	NoNewPrivs string `json:"no_new_privs"`
	Seccomp    string `json:"seccomp"`
	// PID is the child's process ID.
	PID int `json:"pid"`
}
