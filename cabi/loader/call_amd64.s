//go:build linux && amd64

#include "textflag.h"

// call3 is the direct-call trampoline. asmcgocall calls it on the thread's
// system stack, in the C calling convention, with a *callFrame in DI:
//
//	struct { fn, a0, a1, a2, ret uintptr }
//
// It passes a0..a2 in DI, SI and DX, calls fn, and stores AX into ret.
// BX is callee-saved in the System V ABI, so it holds the frame pointer
// across the call; pushing it also restores the 16-byte stack alignment
// the callee expects (asmcgocall's CALL left SP at 8 mod 16).
TEXT call3<>(SB), NOSPLIT|NOFRAME, $0
	PUSHQ BX
	MOVQ  DI, BX
	MOVQ  8(BX), DI  // a0
	MOVQ  16(BX), SI // a1
	MOVQ  24(BX), DX // a2
	MOVQ  0(BX), AX  // fn
	CALL  AX
	MOVQ  AX, 32(BX) // ret
	POPQ  BX
	RET

GLOBL ·call3TrampolineABI0(SB), NOPTR|RODATA, $8
DATA ·call3TrampolineABI0(SB)/8, $call3<>(SB)
