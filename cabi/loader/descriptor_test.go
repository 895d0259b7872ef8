package loader

import (
	"github.com/weirproject/weir/cabi"

	"errors"
	"runtime"
	"testing"
	"unsafe"
)

// fakeDescriptor is a weir_plugin and everything it points to, built in Go
// memory from fuzz input. Function pointers are fake: parse never calls
// them.
type fakeDescriptor struct {
	plugin  pluginDesc
	types   []unsafe.Pointer
	conns   []connectorDesc
	sources []sourceOps
	sinks   []sinkOps
	procs   []processorOps
	strs    [][]byte
}

func (f *fakeDescriptor) str(s []byte) unsafe.Pointer {
	b := append(append([]byte(nil), s...), 0)
	f.strs = append(f.strs, b)
	return unsafe.Pointer(&b[0])
}

// newFakeDescriptor reads spec byte by byte: header fields, then per type
// a size tweak, an id, op bits and role bits. Missing bytes read as zero.
func newFakeDescriptor(spec []byte) *fakeDescriptor {
	i := 0
	next := func() byte {
		if i >= len(spec) {
			return 0
		}
		i++
		return spec[i-1]
	}
	f := &fakeDescriptor{}
	f.plugin = pluginDesc{
		ABIMajor:   uint16(next() % 3),
		ABIMinor:   uint16(next() % 2),
		StructSize: pluginSizeV10 - uint32(next()%4)*8,
		NTypes:     uint32(next() % 5),
	}
	if next()%8 != 0 {
		f.plugin.Name = f.str([]byte("fuzz"))
	}
	if next()%8 != 0 {
		f.plugin.Version = f.str([]byte("1"))
	}
	n := int(f.plugin.NTypes)
	f.conns = make([]connectorDesc, n)
	f.sources = make([]sourceOps, n)
	f.sinks = make([]sinkOps, n)
	f.procs = make([]processorOps, n)
	for t := 0; t < n; t++ {
		c := &f.conns[t]
		c.StructSize = connectorSizeV10 + uint32(next()%3)*8 - 8
		idLen := int(next() % 6)
		id := make([]byte, idLen)
		for k := range id {
			id[k] = "ab1._-Z "[next()%8]
		}
		if next()%8 != 0 {
			c.ID = f.str(id)
		}
		ops := next()
		fake := uintptr(0x1000)
		for k, p := range []*uintptr{&c.Create, &c.Destroy, &c.LastError, &c.Connect, &c.Start} {
			if ops&(1<<k) != 0 {
				*p = fake
			}
		}
		roles := next()
		if roles&1 != 0 {
			f.sources[t] = sourceOps{StructSize: sourceSizeV10 - uint32(roles>>3&1)*8, Poll: fake * uintptr(roles>>4&1)}
			c.Source = unsafe.Pointer(&f.sources[t])
		}
		if roles&2 != 0 {
			f.sinks[t] = sinkOps{StructSize: sinkSizeV10, Write: fake * uintptr(roles>>5&1)}
			c.Sink = unsafe.Pointer(&f.sinks[t])
		}
		if roles&4 != 0 {
			f.procs[t] = processorOps{StructSize: processorSizeV10 - uint32(roles>>6&1)*8, Process: fake}
			c.Processor = unsafe.Pointer(&f.procs[t])
		}
		if next()%8 != 0 {
			f.types = append(f.types, unsafe.Pointer(c))
		} else {
			f.types = append(f.types, nil)
		}
	}
	if n > 0 {
		f.plugin.Types = unsafe.Pointer(&f.types[0])
	}
	return f
}

// goodSpec describes a valid plugin with one sink type "ab".
var goodSpec = []byte{1, 0, 0, 1, 1, 1, 1, 2, 0, 0, 7, 7, 0x22, 1}

func TestParseFake(t *testing.T) {
	d := newFakeDescriptor(goodSpec)
	l := &Library{Path: "fake.so"}
	if err := l.parse(unsafe.Pointer(&d.plugin)); err != nil {
		t.Fatalf("parse(good fake) = %v", err)
	}
	if l.Name != "fuzz" || len(l.Types) != 1 || l.Types[0].ID != "aa" || l.Types[0].Roles != RoleSink {
		t.Errorf("parse(good fake) = %q %+v", l.Name, l.Types[0])
	}
	d.conns[0].Destroy = 0
	if err := (&Library{}).parse(unsafe.Pointer(&d.plugin)); !errors.Is(err, ErrDescriptor) {
		t.Errorf("parse(no destroy) = %v; want ErrDescriptor", err)
	}
	runtime.KeepAlive(d)
}

// FuzzDescriptor checks that parse either accepts a descriptor that meets
// every rule or rejects it with a sentinel, and never panics.
func FuzzDescriptor(f *testing.F) {
	f.Add(goodSpec)
	f.Add([]byte{2, 0, 0, 1})
	f.Add([]byte{1, 1, 0, 1})
	f.Add([]byte{1, 0, 0, 2, 1, 1, 1, 1, 0, 1, 7, 2, 1, 1, 1, 0, 1, 7, 0x22, 1})
	f.Fuzz(func(t *testing.T, spec []byte) {
		d := newFakeDescriptor(spec)
		l := &Library{Path: "fuzz.so"}
		err := l.parse(unsafe.Pointer(&d.plugin))
		runtime.KeepAlive(d)
		if err != nil {
			if !errors.Is(err, ErrABIVersion) && !errors.Is(err, ErrDescriptor) {
				t.Fatalf("parse error %v wraps no sentinel", err)
			}
			return
		}
		if d.plugin.ABIMajor != cabi.ABIMajor || d.plugin.ABIMinor > cabi.ABIMinor || d.plugin.StructSize < pluginSizeV10 {
			t.Fatalf("accepted ABI %d.%d size %d", d.plugin.ABIMajor, d.plugin.ABIMinor, d.plugin.StructSize)
		}
		if len(l.Types) == 0 || len(l.Types) != int(d.plugin.NTypes) {
			t.Fatalf("accepted %d types of %d", len(l.Types), d.plugin.NTypes)
		}
		seen := map[string]bool{}
		for _, typ := range l.Types {
			if cabi.CheckID(typ.ID) != nil || seen[typ.ID] {
				t.Fatalf("accepted id %q", typ.ID)
			}
			seen[typ.ID] = true
			if typ.create == 0 || typ.destroy == 0 || typ.lastError == 0 || typ.Roles == 0 {
				t.Fatalf("accepted type %q without a required op or role", typ.ID)
			}
			if typ.Roles&RoleSource != 0 && typ.poll == 0 || typ.Roles&RoleSink != 0 && typ.write == 0 {
				t.Fatalf("accepted type %q with a role lacking its op", typ.ID)
			}
		}
	})
}

// TestReadPrefix checks that fields beyond a struct's struct_size read as
// absent, and that a newer plugin's larger struct is read up to what this
// host knows.
func TestReadPrefix(t *testing.T) {
	src := sourceOps{StructSize: 16, Flags: 1, Poll: 0x10, Ack: 0x20, Fail: 0x30}
	var dst sourceOps
	dst.Fail = 0x99 // must be cleared
	readPrefix(unsafe.Pointer(&dst), unsafe.Sizeof(dst), unsafe.Pointer(&src), src.StructSize)
	if dst.Poll != 0x10 || dst.Ack != 0 || dst.Fail != 0 {
		t.Errorf("readPrefix(16 bytes) = %+v; want poll kept, ack and fail absent", dst)
	}
	src.StructSize = 1000 // a newer plugin's bigger struct: read what we know
	readPrefix(unsafe.Pointer(&dst), unsafe.Sizeof(dst), unsafe.Pointer(&src), src.StructSize)
	if dst != src {
		t.Errorf("readPrefix(1000 bytes) = %+v; want %+v", dst, src)
	}
}
