package main

import (
	"fmt"
	"io"
	"os"

	flag "github.com/spf13/pflag"

	"github.com/weirproject/weir/runtime/diskbuf"
)

func init() {
	register(command{name: "buffer", summary: "inspect a disk buffer directory: what the next start replays, and any damage", run: func(args []string) int {
		return runBuffer(args, os.Stdout, os.Stderr)
	}})
}

const bufferUsage = `weir buffer reads a disk buffer directory (the path of a connection's
buffer: {type: disk, ...}) without changing it, and prints its state: the
segment files, the records and events the next start will replay (those
not yet delivered, per the ack file), and every damaged byte range the
next start will skip, or cut off the end of the newest segment (a record
a crash cut short). It takes no lock, so it works beside a running weir,
and says so when one holds the buffer (its files may change meanwhile).

Usage:
  weir buffer DIR...

Exit status:
  0  every directory was read (damage or not: the next start handles it)
  1  a directory could not be read
  2  bad arguments

Flags:
`

func runBuffer(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir buffer", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), bufferUsage)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, "buffer", args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "weir buffer: give a buffer directory\n%s", helpHint("buffer"))
		return 2
	}
	code := 0
	for _, dir := range fs.Args() {
		r, err := diskbuf.Inspect(dir)
		if err != nil {
			fmt.Fprintf(stderr, "weir buffer: %v\n", err)
			code = 1
			continue
		}
		writeReport(stdout, r)
	}
	return code
}

// writeReport prints what Inspect found.
func writeReport(w io.Writer, r *diskbuf.Report) {
	fmt.Fprintf(w, "%s: %d records, %d events (%d bytes) to replay in %d segments", r.Dir, r.Pending, r.PendingEvents, r.PendingBytes, len(r.Segments))
	if r.InUse {
		fmt.Fprintf(w, "; in use by pid %s", r.Holder)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  ack floor %d", r.Floor)
	if r.AckDamaged {
		fmt.Fprint(w, " (ack file damaged: the next start replays every record, some perhaps delivered)")
	}
	fmt.Fprintln(w)
	for _, s := range r.Segments {
		fmt.Fprintf(w, "  %s: %d bytes, %d records, %d events, seq %d..%d\n", s.File, s.Size, s.Records, s.Events, s.FirstSeq, s.LastSeq)
	}
	for _, c := range r.Corrupt {
		fmt.Fprintf(w, "  damaged: %s bytes [%d,%d), skipped at the next start\n", c.File, c.Start, c.End)
	}
	if r.Torn != nil {
		fmt.Fprintf(w, "  torn: %s bytes [%d,%d), a record cut short by a crash, cut off at the next start\n", r.Torn.File, r.Torn.Start, r.Torn.End)
	}
	if !r.Damaged() {
		fmt.Fprintln(w, "  no damage")
	}
}
