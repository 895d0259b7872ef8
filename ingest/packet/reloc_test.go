package packet

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// stableTypes are the types the capture programs may have CO-RE relocations
// against: UAPI program contexts and wire-format headers, whose layouts no
// kernel changes. load relocates against the object's own BTF instead of
// the kernel's on that basis, so a relocation against any other type (a
// kernel-internal struct, whose layout does change) must fail this test.
var stableTypes = []string{"xdp_md", "__sk_buff", "ethhdr", "vlan_hdr", "iphdr", "ipv6hdr", "ipv6_opt_hdr", "frag_hdr", "tcphdr", "udphdr", "icmphdr", "icmp6hdr"}

// relocTypeName picks the local type's name out of a relocation's String
// form, such as CORERelocation(byte_off, Struct:"iphdr"[0:7], local_id=52),
// the only view of it cilium/ebpf exports.
var relocTypeName = regexp.MustCompile(`:"([^"]+)"`)

func TestRelocationsStable(t *testing.T) {
	spec, err := loadPacket()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, p := range spec.Programs {
		for _, ins := range p.Instructions {
			r := btf.CORERelocationMetadata(&ins)
			if r == nil {
				continue
			}
			n++
			var typ string
			if m := relocTypeName.FindStringSubmatch(r.String()); m != nil {
				typ = m[1]
			}
			if !slices.Contains(stableTypes, typ) {
				t.Errorf("%s: %s is against %q, not a UAPI or wire-format type; load must then relocate against the kernel's BTF", name, r, typ)
			}
		}
	}
	if n == 0 {
		t.Fatal("found no CO-RE relocations; the test no longer checks anything")
	}
}

// TestOwnBTFRelocatesLikeKernel loads every program twice, relocated against
// the object's own BTF (as load does) and against the running kernel's, and
// checks that the kernel ends up with the same instructions.
func TestOwnBTFRelocatesLikeKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs and reading their instructions needs root")
	}
	if _, err := btf.LoadKernelSpec(); err != nil {
		t.Skipf("the kernel has no BTF to compare with: %v", err)
	}
	for _, name := range allPrograms {
		t.Run(name, func(t *testing.T) {
			var xlated [2][]string
			for i, own := range []bool{true, false} {
				spec, err := loadPacket()
				if err != nil {
					t.Fatal(err)
				}
				var opts ebpf.ProgramOptions
				if own {
					opts.KernelTypes = spec.Types
				}
				for p := range spec.Programs {
					if p != name {
						delete(spec.Programs, p)
					}
				}
				coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Programs: opts})
				if errors.Is(err, ebpf.ErrNotSupported) {
					t.Skipf("kernel lacks a feature: %v", err)
				}
				if err != nil {
					t.Fatal(err)
				}
				info, err := coll.Programs[name].Info()
				if err != nil {
					coll.Close()
					t.Fatal(err)
				}
				// The instructions refer to the program's BTF, which
				// goes with the program: read them before Close.
				insns, err := info.Instructions()
				coll.Close()
				if err != nil {
					t.Fatalf("read translated instructions: %v", err)
				}
				for _, ins := range insns {
					// Each load has its own maps, so map references
					// differ; compare everything else.
					if ins.IsLoadFromMap() {
						ins.Constant = 0
					}
					xlated[i] = append(xlated[i], fmt.Sprintf("%v %v %v %d %d", ins.OpCode, ins.Dst, ins.Src, ins.Offset, ins.Constant))
				}
			}
			if len(xlated[0]) == 0 {
				t.Fatal("read no translated instructions")
			}
			for j := range min(len(xlated[0]), len(xlated[1])) {
				if xlated[0][j] != xlated[1][j] {
					t.Fatalf("instruction %d relocated against the object's BTF is %s; against the kernel's, %s", j, xlated[0][j], xlated[1][j])
				}
			}
			if len(xlated[0]) != len(xlated[1]) {
				t.Fatalf("relocated against the object's BTF: %d instructions; against the kernel's: %d", len(xlated[0]), len(xlated[1]))
			}
		})
	}
}

// TestNoForwardTypes checks that the object's BTF has no forward
// declarations. clang-16 emits them in the order of their addresses in its
// memory, which changes with the directory the object is built in, so an
// object with two of them can differ from the committed one when make
// check-generate rebuilds it elsewhere. One alone cannot change places,
// but the next would. weir_btf_anchor in bpf/packet.c shows the fix: a
// parameter of the struct's pointer type makes clang emit the struct in
// full (which needs its definition: vmlinux.h has every kernel struct).
func TestNoForwardTypes(t *testing.T) {
	spec, err := loadPacket()
	if err != nil {
		t.Fatal(err)
	}
	for typ, err := range spec.Types.All() {
		if err != nil {
			t.Fatal(err)
		}
		if fwd, ok := typ.(*btf.Fwd); ok {
			t.Errorf("BTF has a forward declaration of %s %q; make clang emit it in full (see weir_btf_anchor)", fwd.Kind, fwd.Name)
		}
	}
}
