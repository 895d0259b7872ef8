package pcapng

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// maxBlock bounds the size of a block the Reader accepts (and the Writer
// writes), so that corrupt length fields cannot make it allocate
// arbitrarily.
const maxBlock = 16 << 20

// ErrFormat is wrapped by every error the Reader returns for malformed
// input.
var ErrFormat = errors.New("malformed pcapng")

// ReadInterface is an interface description block as read.
type ReadInterface struct {
	Interface
	// TsResolution is the number of timestamp units per second (from
	// if_tsresol; 1e6 when absent).
	TsResolution uint64
}

// Packet is one packet read from an enhanced or simple packet block.
type Packet struct {
	// Interface is the interface ID (index into Reader.Interfaces).
	Interface int
	// TsNs is the timestamp converted to nanoseconds since the epoch.
	TsNs uint64
	// Data is the captured bytes. It is valid until the next call to Next.
	Data []byte
	// OrigLen is the packet's length on the wire.
	OrigLen int
	// Comment is the packet's opt_comment, if it has one. It is valid
	// until the next call to Next.
	Comment []byte
}

// Reader reads packets from a pcapng stream. It is not safe for concurrent
// use.
type Reader struct {
	r          io.Reader
	order      binary.ByteOrder
	interfaces []ReadInterface
	buf        []byte
	started    bool
}

// NewReader returns a Reader of r. The section header is read by the first
// call to Next.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r}
}

// Interfaces returns the interfaces described so far, in ID order.
func (r *Reader) Interfaces() []ReadInterface { return r.interfaces }

// Next returns the next packet, or io.EOF at the end of the stream.
func (r *Reader) Next() (Packet, error) {
	for {
		typ, body, err := r.block()
		if err != nil {
			return Packet{}, err
		}
		switch typ {
		case blockIDB:
			if err := r.interfaceBlock(body); err != nil {
				return Packet{}, err
			}
		case blockEPB:
			return r.enhancedPacket(body)
		case blockSPB:
			if len(body) < 4 || len(r.interfaces) == 0 {
				return Packet{}, fmt.Errorf("read simple packet block: %w", ErrFormat)
			}
			orig := r.order.Uint32(body)
			data := body[4:]
			if snap := r.interfaces[0].SnapLen; snap != 0 && uint32(len(data)) > snap {
				data = data[:snap]
			}
			if uint32(len(data)) > orig {
				data = data[:orig]
			}
			return Packet{Interface: 0, Data: data, OrigLen: int(orig)}, nil
		}
	}
}

// block reads one block, handling section headers (which reset the byte
// order and the interface list) transparently, and returns the block type
// and body (without type, lengths and trailer).
func (r *Reader) block() (uint32, []byte, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r.r, hdr[:8]); err != nil {
		if errors.Is(err, io.EOF) && r.started {
			return 0, nil, io.EOF
		}
		if errors.Is(err, io.EOF) {
			return 0, nil, fmt.Errorf("read pcapng: empty input: %w", ErrFormat)
		}
		return 0, nil, fmt.Errorf("read pcapng block header: %w", err)
	}
	if binary.LittleEndian.Uint32(hdr[0:]) == blockSHB {
		if _, err := io.ReadFull(r.r, hdr[8:12]); err != nil {
			return 0, nil, fmt.Errorf("read pcapng section header: %w", unexpected(err))
		}
		switch binary.LittleEndian.Uint32(hdr[8:]) {
		case byteOrderMagic:
			r.order = binary.LittleEndian
		case 0x4D3C2B1A:
			r.order = binary.BigEndian
		default:
			return 0, nil, fmt.Errorf("read pcapng section header: bad byte-order magic %#x: %w", hdr[8:12], ErrFormat)
		}
		r.started = true
		r.interfaces = r.interfaces[:0]
		total := r.order.Uint32(hdr[4:])
		if _, err := r.body(total, 12); err != nil {
			return 0, nil, err
		}
		return blockSHB, nil, nil
	}
	if !r.started {
		return 0, nil, fmt.Errorf("read pcapng: input does not start with a section header block: %w", ErrFormat)
	}
	typ := r.order.Uint32(hdr[0:])
	body, err := r.body(r.order.Uint32(hdr[4:]), 8)
	return typ, body, err
}

// body reads the rest of a block of total length whose first consumed bytes
// were already read, checks the trailing length, and returns the body.
func (r *Reader) body(total uint32, consumed int) ([]byte, error) {
	if total < 12 || total%4 != 0 || total > maxBlock || int(total) < consumed+4 {
		return nil, fmt.Errorf("read pcapng block: bad length %d: %w", total, ErrFormat)
	}
	rest := int(total) - consumed
	if cap(r.buf) < rest {
		r.buf = make([]byte, rest)
	}
	b := r.buf[:rest]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return nil, fmt.Errorf("read pcapng block of %d bytes: %w", total, unexpected(err))
	}
	if trail := r.order.Uint32(b[rest-4:]); trail != total {
		return nil, fmt.Errorf("read pcapng block: trailing length %d differs from leading %d: %w", trail, total, ErrFormat)
	}
	return b[:rest-4], nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", io.ErrUnexpectedEOF, ErrFormat)
	}
	return err
}

func (r *Reader) interfaceBlock(body []byte) error {
	if len(body) < 8 {
		return fmt.Errorf("read pcapng interface block: %d bytes: %w", len(body), ErrFormat)
	}
	ifc := ReadInterface{
		Interface: Interface{
			LinkType: r.order.Uint16(body[0:]),
			SnapLen:  r.order.Uint32(body[4:]),
		},
		TsResolution: 1e6,
	}
	err := r.options(body[8:], func(code uint16, val []byte) error {
		switch code {
		case optIfName:
			ifc.Name = string(val)
		case optTsResol:
			if len(val) != 1 {
				return fmt.Errorf("if_tsresol of %d bytes", len(val))
			}
			v := val[0]
			exp := uint64(v & 0x7f)
			base := uint64(10)
			if v&0x80 != 0 {
				base = 2
			}
			if (base == 10 && exp > 18) || (base == 2 && exp > 63) {
				return fmt.Errorf("if_tsresol %#x out of range", v)
			}
			res := uint64(1)
			for range exp {
				res *= base
			}
			ifc.TsResolution = res
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read pcapng interface block: %w", err)
	}
	r.interfaces = append(r.interfaces, ifc)
	return nil
}

func (r *Reader) options(b []byte, fn func(code uint16, val []byte) error) error {
	for len(b) >= 4 {
		code := r.order.Uint16(b[0:])
		n := int(r.order.Uint16(b[2:]))
		if code == optEnd {
			return nil
		}
		padded := (n + 3) &^ 3
		if 4+padded > len(b) {
			return fmt.Errorf("option %d of %d bytes overruns the block: %w", code, n, ErrFormat)
		}
		if err := fn(code, b[4:4+n]); err != nil {
			return fmt.Errorf("option %d: %w: %w", code, err, ErrFormat)
		}
		b = b[4+padded:]
	}
	return nil
}

func (r *Reader) enhancedPacket(body []byte) (Packet, error) {
	if len(body) < 20 {
		return Packet{}, fmt.Errorf("read pcapng packet block: %d bytes: %w", len(body), ErrFormat)
	}
	id := r.order.Uint32(body[0:])
	if uint64(id) >= uint64(len(r.interfaces)) {
		return Packet{}, fmt.Errorf("read pcapng packet block: interface %d not described: %w", id, ErrFormat)
	}
	ts := uint64(r.order.Uint32(body[4:]))<<32 | uint64(r.order.Uint32(body[8:]))
	capLen := r.order.Uint32(body[12:])
	orig := r.order.Uint32(body[16:])
	if uint64(capLen) > uint64(len(body)-20) {
		return Packet{}, fmt.Errorf("read pcapng packet block: captured length %d overruns the block: %w", capLen, ErrFormat)
	}
	res := r.interfaces[id].TsResolution
	var ns uint64
	switch {
	case res == 1e9:
		ns = ts
	case res < 1e9:
		ns = ts * (1e9 / res)
	default:
		ns = ts / (res / 1e9)
	}
	p := Packet{Interface: int(id), TsNs: ns, Data: body[20 : 20+capLen], OrigLen: int(orig)}
	if end := 20 + (uint64(capLen)+3)&^3; end < uint64(len(body)) {
		err := r.options(body[end:], func(code uint16, val []byte) error {
			if code == optComment {
				p.Comment = val
			}
			return nil
		})
		if err != nil {
			return Packet{}, fmt.Errorf("read pcapng packet block options: %w", err)
		}
	}
	return p, nil
}
