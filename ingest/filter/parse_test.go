package filter

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestErrors checks that weir refuses the expressions in
// testdata/errors.txt at the column given, with a message that says what
// was wrong or expected.
func TestErrors(t *testing.T) {
	f, err := os.Open("testdata/errors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	n := 0
	for s.Scan() {
		if s.Text() == "" || strings.HasPrefix(s.Text(), "#") {
			continue
		}
		parts := strings.Split(s.Text(), "\t")
		if len(parts) != 3 {
			t.Fatalf("bad line %q", s.Text())
		}
		col, _ := strconv.Atoi(parts[1])
		_, err := Compile(parts[0])
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("Compile(%q) = %v; want an *Error at column %d", parts[0], err, col)
			continue
		}
		if fe.Col != col || !strings.Contains(fe.Msg, parts[2]) {
			t.Errorf("Compile(%q) = %v; want column %d and %q", parts[0], err, col, parts[2])
		}
		n++
	}
	if n < 20 {
		t.Fatalf("only %d cases", n)
	}
}

// TestEmpty checks that an empty expression keeps everything.
func TestEmpty(t *testing.T) {
	for _, s := range []string{"", "  ", "\t"} {
		e, err := Parse(s)
		if err != nil || !e.MatchesAll() {
			t.Errorf("Parse(%q) = %v, %v; want an expression that matches all", s, e, err)
		}
	}
	e, err := Parse("tcp")
	if err != nil || e.MatchesAll() {
		t.Errorf("Parse(tcp) = %v, %v", e, err)
	}
}

// FuzzParse checks that the parser never panics and that whatever it
// accepts compiles to a program the verifier loads (when run as root).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"tcp port 80 or 443", "vlan 10 and ip[6:2] & 0x1fff = 0", "host 10.0.0.1 and (10.0.0.2 or not 10.0.0.3)",
		"tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420", "ip6 net 2001:db8::/32", "ether host 00:11:22:33:44:55", "not (udp or icmp) && len > 60",
		"mpls 3 and ip", "1 % 2 ^ 3 = ip[0]", "portrange 1-1024", "icmp6[icmp6type] = icmp6-echo", "inbound and ifindex 2"} {
		f.Add(s)
	}
	root := os.Geteuid() == 0
	// Loading takes about 0.1 s (three programs and their rings), so each
	// fuzzing process loads the first maxLoads programs it accepts;
	// TestAgainstTcpdump loads hundreds more.
	const maxLoads = 20
	loads := 0
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 200 {
			return
		}
		e, err := Parse(s)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) || fe.Col < 1 || fe.Col > len(s)+1 {
				t.Fatalf("Parse(%q) = %v; want an *Error with a column in 1..%d", s, err, len(s)+1)
			}
			return
		}
		insns, err := e.Compile()
		if err != nil {
			return // too large or too deep: refused with an error
		}
		if !root || len(insns) > 400 || loads >= maxLoads {
			return // keep each input fast
		}
		loads++
		l, err := loadFilter(t, insns)
		if err != nil {
			t.Fatalf("%q compiles to a program the kernel refuses: %v", s, err)
		}
		l.Close()
	})
}

// TestStackBudget loads a filter that uses its whole stack frame: the
// deepest arithmetic the compiler accepts and more cached fields than it
// keeps. The verifier counts the capture program's stack and the filter's
// together, so this fails if either grows too much.
func TestStackBudget(t *testing.T) {
	needBPF(t)
	deep := "len"
	for i := 0; i < maxDepth-1; i++ {
		deep = "(" + deep + ") + ip[0]"
	}
	var fields []string
	for i := 0; i < maxCached+3; i++ {
		fields = append(fields, "ip["+strconv.Itoa(i)+"] = 1")
	}
	expr := deep + " > 0 or " + strings.Join(fields, " or ")
	insns, err := Compile(expr)
	if err != nil {
		t.Fatal(err)
	}
	l, err := loadFilter(t, insns)
	if err != nil {
		t.Fatalf("the largest frame does not load: %v", err)
	}
	l.Close()
	if _, err := Compile("(" + deep + ") + ip[0] > 0"); err == nil {
		t.Errorf("arithmetic one level deeper than maxDepth compiled")
	}
}
