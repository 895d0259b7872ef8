// Command tracefloor attaches two empty BPF programs (return 0) to the
// sys_enter and sys_exit tracepoints, tp_btf as weir trace does, and holds
// them until interrupted. tools/bench-trace.sh runs it as the floor of
// syscall tracing: what any program on these hooks costs each call before
// it does any work.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

func main() {
	for _, tp := range []string{"sys_enter", "sys_exit"} {
		p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name:         "weir_floor",
			Type:         ebpf.Tracing,
			AttachType:   ebpf.AttachTraceRawTp,
			AttachTo:     tp,
			License:      "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "tracefloor: load %s: %v\n", tp, err)
			os.Exit(1)
		}
		defer p.Close()
		l, err := link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			fmt.Fprintf(os.Stderr, "tracefloor: attach %s: %v\n", tp, err)
			os.Exit(1)
		}
		defer l.Close()
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	<-c
}
