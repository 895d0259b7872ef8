package syscall

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/weirproject/weir/cabi"
)

// TestRecordLayoutBTF checks cabi.SyscallRecord, the Go mirror of struct
// weir_sys_record, against the struct as clang laid it out for BPF: the
// BTF in the committed object, member by member. (cabi's layout test
// checks the same mirror against the host C compiler's layout.)
func TestRecordLayoutBTF(t *testing.T) {
	spec, err := loadSys()
	if err != nil {
		t.Fatal(err)
	}
	var st *btf.Struct
	if err := spec.Types.TypeByName("weir_sys_record", &st); err != nil {
		t.Fatalf("object BTF: %v", err)
	}
	gt := reflect.TypeFor[cabi.SyscallRecord]()
	if st.Size != uint32(gt.Size()) {
		t.Errorf("BTF sizeof(struct weir_sys_record) = %d; Go %d", st.Size, gt.Size())
	}
	// The Go struct embeds the record header as its first field, as the
	// C struct has hdr.
	if len(st.Members) != gt.NumField() {
		t.Fatalf("BTF struct has %d members; Go %d fields", len(st.Members), gt.NumField())
	}
	for i, m := range st.Members {
		f := gt.Field(i)
		size, err := btf.Sizeof(m.Type)
		if err != nil {
			t.Fatal(err)
		}
		if uint32(f.Offset) != m.Offset.Bytes() || uintptr(size) != f.Type.Size() {
			t.Errorf("member %s at %d (%d bytes); Go %s at %d (%d bytes)", m.Name, m.Offset.Bytes(), size, f.Name, f.Offset, f.Type.Size())
		}
		if want := strings.ReplaceAll(strings.ToLower(f.Name), "_", ""); m.Name != "hdr" && strings.ReplaceAll(m.Name, "_", "") != want {
			t.Errorf("member %d is %s in C, %s in Go", i, m.Name, f.Name)
		}
	}
}
