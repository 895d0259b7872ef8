package diskbuf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Report is what Inspect finds in a buffer directory.
type Report struct {
	Dir string
	// InUse is set when a process holds the buffer's lock (Holder is its
	// pid, from the lock file): the files may change while they are read.
	InUse  bool
	Holder string
	// Floor is the ack file's floor: records below it were delivered.
	// AckDamaged is set when the ack file exists but does not read back.
	Floor      uint64
	AckDamaged bool
	Segments   []SegmentReport
	// Pending counts the good records at or above the floor, the events
	// in them and their bytes: what the next Open replays.
	Pending, PendingEvents, PendingBytes uint64
	// CorruptBytes and Corrupt are the damaged ranges Open would skip;
	// TornBytes the damaged end of the newest segment it would cut off.
	CorruptBytes, TornBytes uint64
	Corrupt                 []Region
	Torn                    *Region
}

// SegmentReport describes one segment file.
type SegmentReport struct {
	File              string
	Size              int64
	Records, Events   int
	FirstSeq, LastSeq uint64 // of its good records; 0 when it has none
}

// Damaged reports whether Open would skip or cut anything.
func (r *Report) Damaged() bool { return r.CorruptBytes > 0 || r.TornBytes > 0 || r.AckDamaged }

// Inspect reads a buffer directory without changing it: no lock is taken
// (InUse says whether another process holds it), nothing is truncated or
// deleted. It finds what Open would replay and what it would skip.
func Inspect(dir string) (*Report, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("inspect disk buffer: %w", err)
	}
	r := &Report{Dir: dir}
	if f, err := os.Open(filepath.Join(dir, lockName)); err == nil {
		if unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) != nil {
			r.InUse = true
			b, _ := os.ReadFile(filepath.Join(dir, lockName))
			r.Holder = strings.TrimSpace(string(b))
		}
		f.Close()
	}
	if b, err := os.ReadFile(filepath.Join(dir, ackName)); err == nil && len(b) > 0 {
		floor, ok := parseAck(b)
		r.Floor, r.AckDamaged = floor, !ok
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("inspect disk buffer %s: ack file: %w", dir, err)
	}
	type named struct {
		first uint64
		name  string
	}
	var files []named
	for _, e := range entries {
		first, err := strconv.ParseUint(strings.TrimSuffix(e.Name(), segSuffix), 10, 64)
		if strings.HasSuffix(e.Name(), segSuffix) && e.Type().IsRegular() && err == nil {
			files = append(files, named{first, e.Name()})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].first < files[j].first })
	for i, nf := range files {
		path := filepath.Join(dir, nf.name)
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("inspect disk buffer: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("inspect disk buffer: %w", err)
		}
		sc := scanner{r: f, size: fi.Size()}
		recs, bad := sc.scan()
		f.Close()
		sr := SegmentReport{File: path, Size: fi.Size(), Records: len(recs)}
		if len(recs) > 0 {
			sr.FirstSeq, sr.LastSeq = recs[0].seq, recs[len(recs)-1].seq
		}
		for _, rec := range recs {
			sr.Events += int(rec.events)
			if rec.seq >= r.Floor {
				r.Pending++
				r.PendingEvents += uint64(rec.events)
				r.PendingBytes += uint64(headerSize) + uint64(rec.length)
			}
		}
		for _, b := range bad {
			reg := Region{File: path, Start: b[0], End: b[1]}
			if i == len(files)-1 && b[1] == fi.Size() {
				r.TornBytes += uint64(b[1] - b[0])
				r.Torn = &reg
				continue
			}
			r.CorruptBytes += uint64(b[1] - b[0])
			r.Corrupt = append(r.Corrupt, reg)
		}
		r.Segments = append(r.Segments, sr)
	}
	return r, nil
}
