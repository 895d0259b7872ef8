package trafgen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// ErrNotSupported is wrapped by errors caused by a kernel without XDP live
// frames, or a process without the privileges to load BPF programs.
var ErrNotSupported = errors.New("packet generation not supported")

// Config describes a generator run.
type Config struct {
	Template
	// Ifindex is the interface frames are sent out of, in the network
	// namespace of the thread that calls Run.
	Ifindex int
	// Count is the number of frames to send; at least 1.
	Count uint64
	// Rate paces sending to this many frames per second; 0 sends as fast
	// as the kernel can.
	Rate uint64
	// Flows is the number of source ports, SrcPort to SrcPort+Flows-1,
	// that frames cycle through; 0 means 1.
	Flows uint32
	// Timeout bounds the run; 0 means DefaultTimeout. A run that hits it
	// stops early and reports what it sent.
	Timeout time.Duration
}

// DefaultTimeout bounds a run whose Config.Timeout is 0.
const DefaultTimeout = 60 * time.Second

// maxChunk bounds the repeat count of one BPF_PROG_RUN call, so that a run
// notices its deadline and context at least every few tens of
// milliseconds.
const maxChunk = 1 << 16

// Result reports a run.
type Result struct {
	// Sent is the number of frames the XDP program returned XDP_TX for,
	// never more than Config.Count.
	// The kernel transmits each of them; a receiver that cannot keep up
	// drops some, which Received on the receiving side shows.
	Sent uint64
	// Elapsed is the run's wall-clock time.
	Elapsed time.Duration
}

// PPS returns the run's average send rate in frames per second.
func (r Result) PPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Elapsed.Seconds()
}

// Generator holds the loaded generator programs. It is not safe for
// concurrent use.
type Generator struct {
	cfg   Config
	frame []byte
	objs  trafgenObjects
}

// New builds the template frame and loads the generator programs.
func New(cfg Config) (*Generator, error) {
	if cfg.Count == 0 {
		return nil, errors.New("new generator: count must be at least 1")
	}
	if cfg.Ifindex <= 0 {
		return nil, fmt.Errorf("new generator: invalid interface index %d", cfg.Ifindex)
	}
	if cfg.Flows == 0 {
		cfg.Flows = 1
	}
	if uint64(cfg.SrcPort)+uint64(cfg.Flows) > 65536 {
		return nil, fmt.Errorf("new generator: %d flows from source port %d run past port 65535", cfg.Flows, cfg.SrcPort)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	frame, err := cfg.Frame()
	if err != nil {
		return nil, fmt.Errorf("new generator: %w", err)
	}
	spec, err := loadTrafgen()
	if err != nil {
		return nil, fmt.Errorf("new generator: %w", err)
	}
	if err := spec.Variables[trafgenVarTrafgenFlows].Set(cfg.Flows); err != nil {
		return nil, fmt.Errorf("new generator: set flows: %w", err)
	}
	if err := spec.Variables[trafgenVarTrafgenBasePort].Set(cfg.SrcPort); err != nil {
		return nil, fmt.Errorf("new generator: set base port: %w", err)
	}
	g := &Generator{cfg: cfg, frame: frame}
	if err := spec.LoadAndAssign(&g.objs, nil); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, ebpf.ErrNotSupported) {
			return nil, fmt.Errorf("new generator: load programs: %w: %w", err, ErrNotSupported)
		}
		return nil, fmt.Errorf("new generator: load programs: %w", err)
	}
	return g, nil
}

// Frame returns the template frame (the first flow's). The caller must not
// modify it.
func (g *Generator) Frame() []byte { return g.frame }

// Close unloads the programs. Receivers attached with AttachReceiver stay
// attached until their links are closed.
func (g *Generator) Close() error {
	return g.objs.Close()
}

// AttachReceiver attaches the generator's counting XDP_PASS program to the
// interface ifindex in the calling thread's namespace: the receiving end of
// the veth pair needs an XDP program to accept the generated frames. Close
// the returned link to detach it.
func (g *Generator) AttachReceiver(ifindex int) (link.Link, error) {
	l, err := link.AttachXDP(link.XDPOptions{Program: g.objs.WeirTrafgenRx, Interface: ifindex})
	if err != nil {
		return nil, fmt.Errorf("attach generator receiver to interface %d: %w", ifindex, err)
	}
	return l, nil
}

// Received returns how many frames the receiver program has seen.
func (g *Generator) Received() (uint64, error) {
	var n uint64
	if err := g.objs.TrafgenReceived.Get(&n); err != nil {
		return 0, fmt.Errorf("read generator receive count: %w", err)
	}
	return n, nil
}

// runs returns how many times the transmit program has run.
func (g *Generator) runs() (uint64, error) {
	var n uint64
	if err := g.objs.TrafgenRuns.Get(&n); err != nil {
		return 0, fmt.Errorf("read generator run count: %w", err)
	}
	return n, nil
}

// xdpMD mirrors struct xdp_md, the context BPF_PROG_RUN takes for XDP.
type xdpMD struct {
	Data, DataEnd, DataMeta      uint32
	IngressIfindex, RxQueueIndex uint32
	EgressIfindex                uint32
}

// Run sends cfg.Count frames (fewer if ctx ends or the timeout passes
// first), pacing them to cfg.Rate if set. It must run on a thread in the
// sending interface's namespace.
func (g *Generator) Run(ctx context.Context) (Result, error) {
	start := time.Now()
	deadline := start.Add(g.cfg.Timeout)
	base, err := g.runs()
	if err != nil {
		return Result{}, err
	}
	// The program transmits only below the limit, so a BPF_PROG_RUN the
	// kernel restarts cannot overshoot Count.
	if err := g.objs.TrafgenLimit.Set(base + g.cfg.Count); err != nil {
		return Result{}, fmt.Errorf("set generator limit: %w", err)
	}
	chunk := uint64(maxChunk)
	if g.cfg.Rate > 0 {
		// About 2 ms worth of frames per call.
		chunk = max(1, min(chunk, g.cfg.Rate/500))
	}
	md := xdpMD{DataEnd: uint32(len(g.frame)), IngressIfindex: uint32(g.cfg.Ifindex)}
	var done uint64
	for done < g.cfg.Count {
		if err := ctx.Err(); err != nil {
			break
		}
		now := time.Now()
		if now.After(deadline) {
			break
		}
		if g.cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(done) / float64(g.cfg.Rate) * float64(time.Second)))
			if wait := due.Sub(now); wait > 0 {
				t := time.NewTimer(min(wait, time.Until(deadline)))
				select {
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
				continue
			}
		}
		n := min(chunk, g.cfg.Count-done)
		_, err := g.objs.WeirTrafgenTx.Run(&ebpf.RunOptions{
			Data:    g.frame,
			Context: md,
			Repeat:  uint32(n),
			Flags:   unix.BPF_F_TEST_XDP_LIVE_FRAMES,
		})
		if err != nil {
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, ebpf.ErrNotSupported) {
				err = fmt.Errorf("%w: %w", err, ErrNotSupported)
			}
			return Result{Elapsed: time.Since(start)}, fmt.Errorf("run generator on interface %d: %w", g.cfg.Ifindex, err)
		}
		cur, err := g.runs()
		if err != nil {
			return Result{}, err
		}
		done = min(cur-base, g.cfg.Count)
	}
	return Result{Sent: done, Elapsed: time.Since(start)}, nil
}
