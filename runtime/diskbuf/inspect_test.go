package diskbuf

import (
	"os"
	"testing"
)

// TestInspect checks that Inspect reports what Open would find, and
// changes nothing: the torn tail is still there afterwards.
func TestInspect(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{SegmentSize: 600})
	seqs := appendN(t, b, 0, 40)
	for _, s := range seqs[:10] {
		b.Settle(s)
	}
	r, err := Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !r.InUse || r.Holder == "" {
		t.Fatalf("Inspect beside an open buffer: in use %v, holder %q; want in use", r.InUse, r.Holder)
	}
	b.Close()
	files := segFiles(t, dir)
	mid, last := files[1], files[len(files)-1]
	data, _ := os.ReadFile(mid)
	data[headerSize+2] ^= 1
	os.WriteFile(mid, data, 0o644)
	data, _ = os.ReadFile(last)
	os.WriteFile(last, data[:len(data)-3], 0o644)
	r, err = Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.InUse || r.Floor != seqs[10] || r.CorruptBytes == 0 || r.TornBytes == 0 || !r.Damaged() {
		t.Fatalf("Inspect = %+v; want not in use, floor %d, damage", r, seqs[10])
	}
	if fi, _ := os.Stat(last); fi.Size() != int64(len(data)-3) {
		t.Fatalf("Inspect changed %s", last)
	}
	b = open(t, dir, Options{})
	defer b.Close()
	st := b.Stats()
	if st.Replayed != r.Pending || st.ReplayedEvents != r.PendingEvents || st.CorruptBytes != r.CorruptBytes || st.TornBytes != r.TornBytes {
		t.Fatalf("Open found replay %d/%d, corrupt %d, torn %d; Inspect said %d/%d, %d, %d",
			st.Replayed, st.ReplayedEvents, st.CorruptBytes, st.TornBytes, r.Pending, r.PendingEvents, r.CorruptBytes, r.TornBytes)
	}
}
