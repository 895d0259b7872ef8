package packet

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// layouts lists the structs shared with bpf/headers/weir_record.h: each C
// field with the Go field that mirrors it. struct weir_pkt_record comes from
// cabi/include/weir/records.h, which weir_record.h includes; package cabi's
// layout test checks its prefix field by field.
var layouts = []struct {
	cName  string
	goType reflect.Type
	fields [][2]string // C field, Go field
}{
	{"weir_pkt_record", reflect.TypeOf(Header{}), [][2]string{
		{"hdr", "RecordHeader"}, {"ifindex", "Ifindex"}, {"orig_len", "OrigLen"}, {"cap_len", "CapLen"},
		{"sample_rate", "SampleRate"}, {"direction", "Direction"},
		{"hook", "Hook"}, {"parse_flags", "ParseFlags"}, {"vlan_depth", "VLANDepth"},
		{"l3_proto", "L3Proto"}, {"l3_off", "L3Off"}, {"l4_off", "L4Off"},
		{"l4_proto", "L4Proto"}, {"sample_mode", "SampleMode"}, {"vlan_tci", "VLANTCI"},
		{"reserved1", "Reserved1"},
	}},
	{"weir_pkt_counters", reflect.TypeOf(packetWeirPktCounters{}), [][2]string{
		{"seen", "Seen"}, {"filtered", "Filtered"}, {"sampled_out", "SampledOut"},
		{"emitted", "Emitted"}, {"ring_full", "RingFull"}, {"seq", "Seq"},
	}},
	{"weir_filter_args", reflect.TypeOf(FilterArgs{}), [][2]string{
		{"head", "Head"}, {"head_len", "HeadLen"}, {"wire_len", "WireLen"}, {"ifindex", "Ifindex"},
		{"l3_proto", "L3Proto"}, {"l3_off", "L3Off"}, {"l4_off", "L4Off"}, {"l4_proto", "L4Proto"},
		{"direction", "Direction"},
	}},
	{"weir_if_config", reflect.TypeOf(packetWeirIfConfig{}), [][2]string{
		{"sample_rate", "SampleRate"}, {"snaplen", "Snaplen"}, {"sample_mode", "SampleMode"},
	}},
}

// TestLayout compiles a C program against weir_record.h with the host cc and
// compares every size and offset it prints with the Go mirrors.
func TestLayout(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skipf("layout test needs a C compiler: %v", err)
	}
	var src strings.Builder
	src.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include \"weir_record.h\"\nint main(void) {\n")
	fmt.Fprintf(&src, "\tprintf(\"const WEIR_PKT_RECORD_SIZE %%d\\n\", WEIR_PKT_RECORD_SIZE);\n")
	fmt.Fprintf(&src, "\tprintf(\"const WEIR_SNAPLEN_MAX %%d\\n\", WEIR_SNAPLEN_MAX);\n")
	fmt.Fprintf(&src, "\tprintf(\"const WEIR_PKT_RECORD_VERSION %%d\\n\", WEIR_PKT_RECORD_VERSION);\n")
	fmt.Fprintf(&src, "\tprintf(\"const WEIR_FILTER_HEAD %%d\\n\", WEIR_FILTER_HEAD);\n")
	for _, l := range layouts {
		fmt.Fprintf(&src, "\tprintf(\"size %s %%zu\\n\", sizeof(struct %s));\n", l.cName, l.cName)
		for _, f := range l.fields {
			fmt.Fprintf(&src, "\tprintf(\"field %s.%s %%zu %%zu\\n\", offsetof(struct %s, %s), sizeof(((struct %s *)0)->%s));\n",
				l.cName, f[0], l.cName, f[0], l.cName, f[0])
		}
	}
	src.WriteString("\treturn 0;\n}\n")
	dir := t.TempDir()
	cfile := filepath.Join(dir, "layout.c")
	if err := os.WriteFile(cfile, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "layout")
	if out, err := exec.Command(cc, "-std=c11", "-Wall", "-Werror", "-I", "../../bpf/headers", "-o", bin, cfile).CombinedOutput(); err != nil {
		t.Fatalf("compile layout program: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("run layout program: %v", err)
	}
	got := map[string][]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		var nums []int
		for _, p := range parts[2:] {
			n, err := strconv.Atoi(p)
			if err != nil {
				t.Fatalf("layout program printed %q", sc.Text())
			}
			nums = append(nums, n)
		}
		got[parts[0]+" "+parts[1]] = nums
	}
	want := map[string]int{
		"WEIR_PKT_RECORD_SIZE":    HeaderSize,
		"WEIR_SNAPLEN_MAX":        SnaplenMax,
		"WEIR_PKT_RECORD_VERSION": RecordVersion,
		"WEIR_FILTER_HEAD":        FilterHead,
	}
	for name, v := range want {
		if c := got["const "+name]; len(c) != 1 || c[0] != v {
			t.Errorf("C %s = %v; Go has %d", name, c, v)
		}
	}
	for _, l := range layouts {
		if c := got["size "+l.cName]; len(c) != 1 || c[0] != int(l.goType.Size()) {
			t.Errorf("sizeof(struct %s) = %v; Go %s is %d bytes", l.cName, c, l.goType, l.goType.Size())
		}
		if l.cName == "weir_pkt_record" && l.goType.Size()%8 != 0 {
			t.Errorf("Go %s is %d bytes, not a multiple of 8", l.goType, l.goType.Size())
		}
		for _, f := range l.fields {
			gf, ok := l.goType.FieldByName(f[1])
			if !ok {
				t.Fatalf("Go %s has no field %s", l.goType, f[1])
			}
			c := got["field "+l.cName+"."+f[0]]
			if len(c) != 2 || c[0] != int(gf.Offset) || c[1] != int(gf.Type.Size()) {
				t.Errorf("struct %s.%s (offset, size) = %v; Go %s.%s is (%d, %d)",
					l.cName, f[0], c, l.goType, f[1], gf.Offset, gf.Type.Size())
			}
		}
	}
}
