// Package diskbuf is weir's crash-safe disk buffer: a FIFO of records in
// append-only segment files, each record checksummed (CRC-32C over its
// header and payload), synced by a policy, and deleted a segment at a time
// once every record in it is settled (delivered or given up). The engine
// puts one in front of an edge's consumer when the config asks for
// `buffer: {type: disk, ...}`; a record is one batch of events.
//
// # Guarantees
//
// A record is stored when Append returns nil. What survives depends on
// the Policy: under SyncBatch it is on disk before Append returns; under
// SyncInterval it is on disk once Options.OnDurable reports its sequence
// number; under SyncNever it is in the kernel's page cache, so it survives
// the end of the process (kill -9, a panic) but not a crash of the machine
// or a power cut. A record leaves the buffer only through Settle. Open
// replays, in order, every good record not settled, so delivery is at
// least once: a record settled after the ack file was last written is
// replayed once more after a crash.
//
// Damage never stops Open. The damaged end of the newest segment (a record
// cut short by a crash) is cut off and counted as torn bytes; a damaged
// range anywhere else is skipped, counted, and its file and byte range
// logged and kept in Stats.Corrupt, and the scan resumes at the next
// record whose checksum holds, so good records after the damage are kept.
// A record found damaged when read back later is skipped the same way.
//
// The directory holds a lock file taken with flock, so that a second
// process (or a second Buffer) using it fails at Open with ErrLocked and
// the holder's pid; the lock dies with its process.
//
// # Why by hand
//
// The log is written here rather than taken from a library. The write-
// ahead logs on offer for Go (tidwall/wal, the etcd and Raft logs) are
// built for logs truncated from the front by index, with their own sync
// and corruption rules: most refuse to open on a damaged middle, none
// settles records out of order, and none reports byte ranges. What weir
// needs is small (about a thousand lines with recovery) and every rule below is
// easier to keep, and to test at every byte, in code it owns.
//
// # Lessons from Fluent Bit and Vector
//
// Their issue trackers list ways their disk buffers lost data or stalled.
// This buffer avoids each:
//
//   - Acknowledging before the bytes are durable (vector PR #25639, found
//     by crash testing in the style of the ALICE study): the engine acks a
//     source only when the policy's promise holds (see Policy).
//   - A non-atomic delete and ledger update leaving the next start waiting
//     for a file that never comes, a crash loop (vector PR #25570), and a
//     reader waiting for a file ID that wrapped (vector #19759): segments
//     are named by 64-bit sequence numbers that never wrap, Open reads only
//     the files it finds, and the ack file only saves replays, so a crash
//     between any two steps leaves a state the next Open accepts.
//   - One corrupt record stopping everything, in a loop that ignored
//     SIGINT (vector #17644), or start-up refused until the buffer was
//     deleted by hand (vector #19759, #16231; fluent-bit #5265), or an
//     agent that looked healthy but forwarded nothing (fluent-bit #11847):
//     damage is skipped, counted and located, and the rest is delivered.
//   - Healthy records in a damaged file thrown away (fluent-bit #3707,
//     #3229): recovery resynchronizes on the record magic and keeps every
//     record whose checksum holds.
//   - Damaged metadata losing acknowledged records after SIGKILL
//     (fluent-bit #10952): the checksum covers each record's length, count
//     and sequence number as well as its payload, and there is no other
//     metadata to trust.
//   - Corrupt files never removed and reloaded at every start (fluent-bit
//     #2472, #4278): a segment with damage is deleted like any other once
//     its good records are settled; one with no good record at Open.
//   - Loading the whole buffer into memory at start (vector #26035): Open
//     keeps a 32-byte index entry per record; payloads are read one record
//     at a time.
//   - A full disk dropping data without a word (fluent-bit #3468): a
//     failed write (ENOSPC, EIO, EROFS) returns the error, leaves no
//     partial record, and is counted; MaxSize refusals are ErrFull, which
//     the engine turns into the edge's overflow policy.
//
// A Buffer is safe for concurrent use, except that one goroutine at a time
// reads with Next.
package diskbuf
