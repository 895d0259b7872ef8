package ringfill

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf"
)

// Args mirrors struct weir_fill_args, the context of one fill run.
type Args struct {
	// Count is the number of records to write in this run.
	Count uint32
	// DiscardEvery discards records whose number is a multiple of it;
	// 0 discards none.
	DiscardEvery uint32
	// Mixed cycles payload sizes through 20, 64 and 200 bytes instead of
	// always 64.
	Mixed uint32
	// SubmitFlags are passed to bpf_ringbuf_submit (0, BPF_RB_NO_WAKEUP=1,
	// BPF_RB_FORCE_WAKEUP=2).
	SubmitFlags uint32
}

// Filler is the loaded fill program, writing into one ring.
type Filler struct {
	objs fillObjects
}

// New loads the fill program so that it writes into ring, a
// BPF_MAP_TYPE_RINGBUF map.
func New(ring *ebpf.Map) (*Filler, error) {
	spec, err := loadFill()
	if err != nil {
		return nil, fmt.Errorf("load ring filler: %w", err)
	}
	spec.Maps[fillMapWeirFillRing].MaxEntries = ring.MaxEntries()
	f := &Filler{}
	opts := &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{fillMapWeirFillRing: ring}}
	if err := spec.LoadAndAssign(&f.objs, opts); err != nil {
		return nil, fmt.Errorf("load ring filler: %w", err)
	}
	return f, nil
}

// Fill runs the program once with a.
func (f *Filler) Fill(a Args) error {
	if _, err := f.objs.WeirRingFill.Run(&ebpf.RunOptions{Context: a}); err != nil {
		return fmt.Errorf("run ring filler: %w", err)
	}
	return nil
}

// Seq returns how many records have been numbered, including discarded and
// failed ones.
func (f *Filler) Seq() (uint64, error) {
	var v uint64
	err := f.objs.WeirFillSeq.Get(&v)
	return v, err
}

// Full returns how many reservations failed because the ring was full.
func (f *Filler) Full() (uint64, error) {
	var v uint64
	err := f.objs.WeirFillFull.Get(&v)
	return v, err
}

// Close unloads the program.
func (f *Filler) Close() error { return f.objs.Close() }

// Size returns the payload size of record seq.
func Size(seq uint64, mixed bool) int {
	if !mixed {
		return 64
	}
	return [3]int{20, 64, 200}[seq%3]
}

// Payload returns the payload record seq carries, for comparison with what
// a reader returns. The bytes the program leaves unwritten (past the last
// whole 8-byte word) are returned as zero and must be ignored: Written says
// how many bytes are meaningful.
func Payload(seq uint64, mixed bool) []byte {
	n := Size(seq, mixed)
	b := make([]byte, n)
	binary.LittleEndian.PutUint64(b[0:], seq)
	binary.LittleEndian.PutUint64(b[8:], uint64(n))
	for w := 2; w < n/8; w++ {
		binary.LittleEndian.PutUint64(b[w*8:], seq^uint64(w))
	}
	return b
}

// Written returns how many leading bytes of record seq's payload the program
// writes.
func Written(seq uint64, mixed bool) int {
	return Size(seq, mixed) / 8 * 8
}
