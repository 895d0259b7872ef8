package format

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/ingest/pktfmt"
)

// Event file formats and packet encodings, as named in configs.
const (
	JSONL      = "jsonl"
	Raw        = "raw"
	Text       = "text"
	Packet     = "packet"      // a tcpdump-like line per packet record
	PacketJSON = "packet-json" // a JSON object per packet record
)

// KindNames names the event kinds plugin.h defines, indexed by kind.
var KindNames = [...]string{
	cabi.KindRaw:     "raw",
	cabi.KindPacket:  "packet",
	cabi.KindSyscall: "syscall",
	cabi.KindJSON:    "json",
	cabi.KindText:    "text",
	cabi.KindTick:    "tick",
}

// KindByName returns the kind called name.
func KindByName(name string) (cabi.Kind, bool) {
	for k, n := range KindNames {
		if n == name {
			return cabi.Kind(k), true
		}
	}
	return 0, false
}

// AppendKind appends k's name, or its number for kinds without one.
func AppendKind(dst []byte, k cabi.Kind) []byte {
	if int(k) < len(KindNames) {
		return append(dst, KindNames[k]...)
	}
	return strconv.AppendUint(dst, uint64(k), 10)
}

// Record is one parsed event: its bytes are data[Off:Off+N] of the buffer
// the parser returned.
type Record struct {
	Off, N int
	Kind   cabi.Kind
	Stream uint64
}

// jsonEvent is one line of a JSON lines event file.
type jsonEvent struct {
	Kind     json.RawMessage `json:"kind"`
	StreamID uint64          `json:"stream_id"`
	Data     *string         `json:"data"`
	DataB64  *string         `json:"data_b64"`
	// Written by sinks, ignored on input: the blaster stamps events itself
	// and derives the length from the data.
	TsNs  uint64 `json:"ts_ns"`
	Len   uint64 `json:"len"`
	Flags uint16 `json:"flags"`
}

// parseKind decodes a "kind" value: a name or a number below 65536.
func parseKind(raw json.RawMessage) (cabi.Kind, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return cabi.KindRaw, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
		if k, ok := KindByName(s); ok {
			return k, nil
		}
		return 0, fmt.Errorf("unknown kind %q; want raw, packet, syscall, json, text, tick or a number", s)
	}
	n, err := strconv.ParseUint(string(raw), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("kind %s is not a kind name or a number 0..65535", raw)
	}
	return cabi.Kind(n), nil
}

// ParseJSONL parses a JSON lines event file. name is used in errors, which
// read "NAME:LINE:COL: message".
func ParseJSONL(name string, src []byte) (data []byte, recs []Record, err error) {
	line := 0
	for len(src) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			l, src = src[:i], src[i+1:]
		} else {
			l, src = src, nil
		}
		l = bytes.TrimSuffix(l, []byte{'\r'})
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var ev jsonEvent
		dec := json.NewDecoder(bytes.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			return nil, nil, fmt.Errorf("%s:%d:%d: %w", name, line, jsonErrCol(err), err)
		}
		if dec.More() {
			return nil, nil, fmt.Errorf("%s:%d:%d: more than one JSON value on the line", name, line, dec.InputOffset()+1)
		}
		kind, err := parseKind(ev.Kind)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d:1: %w", name, line, err)
		}
		r := Record{Off: len(data), Kind: kind, Stream: ev.StreamID}
		switch {
		case ev.Data != nil && ev.DataB64 != nil:
			return nil, nil, fmt.Errorf("%s:%d:1: both data and data_b64 are set; want one", name, line)
		case ev.Data != nil:
			data = append(data, *ev.Data...)
		case ev.DataB64 != nil:
			b, err := base64.StdEncoding.DecodeString(*ev.DataB64)
			if err != nil {
				return nil, nil, fmt.Errorf("%s:%d:1: data_b64: %w", name, line, err)
			}
			data = append(data, b...)
		}
		r.N = len(data) - r.Off
		if r.N > MaxEventLen {
			return nil, nil, fmt.Errorf("%s:%d:1: event of %d bytes is larger than the limit of %d", name, line, r.N, MaxEventLen)
		}
		recs = append(recs, r)
	}
	return data, recs, nil
}

// MaxEventLen is the largest event the parsers accept (cabi.Event.Len is a
// uint32; 1 GiB keeps the sum of a few from overflowing an int on any host).
const MaxEventLen = 1 << 30

// jsonErrCol returns the 1-based column a JSON decoding error points at, or
// 1 when it does not say.
func jsonErrCol(err error) int64 {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return syn.Offset
	case errors.As(err, &typ):
		return typ.Offset
	}
	return 1
}

// ParseRaw splits a length-prefixed raw event file: records of a
// little-endian uint32 length followed by that many bytes. The records
// point into src. Errors read "NAME: byte OFFSET: message".
func ParseRaw(name string, src []byte, kind cabi.Kind, stream uint64) ([]Record, error) {
	var recs []Record
	off := 0
	for off < len(src) {
		if len(src)-off < 4 {
			return nil, fmt.Errorf("%s: byte %d: truncated length prefix (%d of 4 bytes)", name, off, len(src)-off)
		}
		n := int(binary.LittleEndian.Uint32(src[off:]))
		if n > MaxEventLen {
			return nil, fmt.Errorf("%s: byte %d: record length %d is larger than the limit of %d", name, off, n, MaxEventLen)
		}
		if len(src)-off-4 < n {
			return nil, fmt.Errorf("%s: byte %d: record of %d bytes is truncated at %d bytes", name, off, n, len(src)-off-4)
		}
		recs = append(recs, Record{Off: off + 4, N: n, Kind: kind, Stream: stream})
		off += 4 + n
	}
	return recs, nil
}

// AppendRaw appends e as a length-prefixed raw record.
func AppendRaw(dst []byte, e *cabi.Event) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, e.Len)
	return append(dst, e.Bytes()...)
}

// AppendJSON appends e as one JSON object and a newline, in the JSON lines
// format the blaster reads. Bytes that are valid UTF-8 go in data, others
// in data_b64.
func AppendJSON(dst []byte, e *cabi.Event) []byte {
	dst = append(dst, `{"ts_ns":`...)
	dst = strconv.AppendUint(dst, e.TsNs, 10)
	dst = append(dst, `,"stream_id":`...)
	dst = strconv.AppendUint(dst, e.StreamID, 10)
	dst = append(dst, `,"kind":`...)
	if int(e.Kind) < len(KindNames) {
		dst = append(dst, '"')
		dst = AppendKind(dst, e.Kind)
		dst = append(dst, '"')
	} else {
		dst = AppendKind(dst, e.Kind)
	}
	dst = append(dst, `,"len":`...)
	dst = strconv.AppendUint(dst, uint64(e.Len), 10)
	dst = append(dst, `,"flags":`...)
	dst = strconv.AppendUint(dst, uint64(e.Flags), 10)
	b := e.Bytes()
	if utf8.Valid(b) {
		dst = append(dst, `,"data":`...)
		dst = appendJSONString(dst, b)
	} else {
		dst = append(dst, `,"data_b64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, b)
		dst = append(dst, '"')
	}
	return append(dst, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s, valid UTF-8, as a quoted JSON string.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendText appends e's bytes and a newline.
func AppendText(dst []byte, e *cabi.Event) []byte {
	dst = append(dst, e.Bytes()...)
	return append(dst, '\n')
}

// Encoder returns the record encoder for a sink format. The packet
// encoders keep a cache of interface names of their own, so each is not
// safe for concurrent use; the others are.
func Encoder(format string) (func([]byte, *cabi.Event) []byte, error) {
	switch format {
	case JSONL:
		return AppendJSON, nil
	case Raw:
		return AppendRaw, nil
	case Text:
		return AppendText, nil
	case Packet:
		return packetEncoder(pktfmt.AppendText, appendTextMarker), nil
	case PacketJSON:
		return packetEncoder(pktfmt.AppendJSON, appendJSONMarker), nil
	}
	return nil, fmt.Errorf("unknown format %q; want jsonl, raw, text, packet or packet-json", format)
}
