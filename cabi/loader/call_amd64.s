//go:build linux && amd64

#include "go_asm.h"
#include "textflag.h"

// call3 is the direct-call trampoline. asmcgocall calls it on the thread's
// system stack, in the C calling convention, with a *callFrame in DI:
//
//	struct { fn, a0, a1, a2, ret, sp uintptr; ... }
//
// It passes a0..a2 in DI, SI and DX, calls fn, and stores AX into ret.
// BX is callee-saved in the System V ABI, so it holds the frame pointer
// across the call; pushing it also restores the 16-byte stack alignment
// the callee expects (asmcgocall's CALL left SP at 8 mod 16). While the
// plugin runs, sp holds the stack pointer the plugin's frames grow down
// from, so that faultHandler can tell which call a fault happened in.
TEXT call3<>(SB), NOSPLIT|NOFRAME, $0
	PUSHQ BX
	MOVQ  DI, BX
	MOVQ  SP, 40(BX) // sp: the plugin's frames lie below
	MOVQ  8(BX), DI  // a0
	MOVQ  16(BX), SI // a1
	MOVQ  24(BX), DX // a2
	MOVQ  0(BX), AX  // fn
	CALL  AX
	MOVQ  AX, 32(BX) // ret
	MOVQ  $0, 40(BX) // out of the plugin
	POPQ  BX
	RET

GLOBL ·call3TrampolineABI0(SB), NOPTR|RODATA, $8
DATA ·call3TrampolineABI0(SB)/8, $call3<>(SB)

// Offsets into the ucontext_t the kernel passes a SA_SIGINFO handler:
// uc_mcontext.gregs starts at 40; REG_RSP is 15 and REG_RIP 16.
#define UC_RSP 160
#define UC_RIP 168
// How far below a call's sp a fault still counts as inside that call.
#define CALL_STACK 67108864

// APPEND(R) copies the (ptr, len) pair at 0(R) (R holds a *[2]uintptr)
// to DI, advancing DI, but never past R15: the line is built whole in
// faultLine and written with one write(2), so that no other thread's
// output (a log line) lands inside it.
#define APPEND(R) MOVQ 0(R), SI; MOVQ 8(R), CX; MOVQ R15, AX; SUBQ DI, AX; CMPQ CX, AX; CMOVQHI AX, CX; CLD; REP; MOVSB

// faultHandler is the handler installFaultHandler puts in front of the Go
// runtime's for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT. It runs in
// the C calling convention (sig in DI, siginfo in SI, ucontext in DX) on
// the signal stack, touches no Go state, and calls no function:
//
//   - A fault at a PC inside the Go binary's text is Go's (a nil
//     dereference that panics, a runtime crash): jump to the Go runtime's
//     handler with the registers untouched. So is a SIGABRT that the
//     process did not send itself (kill -ABRT from outside, for Go's
//     dump), whatever the PC.
//   - Any other PC is foreign code: a plugin or a library it called (a
//     SIGABRT from abort(), which a failed assert calls). The handler
//     finds the direct call whose plugin stack holds the faulting stack
//     pointer (faultFrames), builds one line naming its connector, type,
//     library and call, or saying no call was in flight on that stack (a
//     plugin's own thread), writes it to stderr with one write(2), and
//     exits the process with faultExit. A Go dump after that line would
//     only show the host. A second thread that faults meanwhile waits
//     for the first to end the process.
TEXT faultHandler<>(SB), NOSPLIT|NOFRAME, $0
	CMPQ DI, $6              // SIGABRT: ours only if raised by this process
	JNE  pc
	MOVL 8(SI), AX           // si_code
	CMPL AX, $-6             // SI_TKILL: tgkill, as raise() and abort() do
	JNE  gos
	MOVQ DI, R8
	MOVQ $39, AX             // getpid
	SYSCALL
	MOVQ R8, DI
	MOVL 16(SI), R8          // si_pid
	CMPL AX, R8
	JNE  gos

pc:
	MOVQ UC_RIP(DX), AX
	MOVQ ·goTextLo(SB), R8
	CMPQ AX, R8
	JCS  foreign
	MOVQ ·goTextHi(SB), R8
	CMPQ AX, R8
	JCC  foreign

gos:
	MOVQ DI, AX
	ANDQ $63, AX
	LEAQ ·prevHandlers(SB), R8
	MOVQ (R8)(AX*8), AX
	JMP  AX

foreign:
	MOVQ DI, R12             // sig
	ANDQ $63, R12
	MOVQ UC_RSP(DX), R9      // the faulting stack pointer
	LEAQ ·faultFrames(SB), R10
	MOVQ $0, R11

lock:
	MOVQ $1, AX
	XCHGQ AX, ·faultBusy(SB)
	TESTQ AX, AX
	JEQ  scan

wait:
	MOVQ $34, AX             // pause, until the first thread's exit_group
	SYSCALL
	JMP  wait

scan:
	CMPQ R11, $const_maxFaultFrames
	JEQ  none
	MOVQ (R10)(R11*8), R13   // *callFrame, or 0
	TESTQ R13, R13
	JEQ  next
	MOVQ 40(R13), R8         // its sp while the plugin runs, or 0
	TESTQ R8, R8
	JEQ  next
	CMPQ R9, R8
	JHI  next                // faulting SP above the call's frames
	MOVQ R8, CX
	SUBQ R9, CX
	CMPQ CX, $CALL_STACK
	JCC  next
	JMP  found

next:
	INCQ R11
	JMP  scan

found:
	LEAQ ·faultLine(SB), DI
	LEAQ (const_faultLineLen-32)(DI), R15 // room for the signal's part
	LEAQ ·msgPrefix(SB), R14
	APPEND(R14)
	LEAQ 64(R13), R14        // who
	APPEND(R14)
	LEAQ ·msgIn(SB), R14
	APPEND(R14)
	LEAQ 48(R13), R14        // op
	APPEND(R14)
	JMP  tail

none:
	LEAQ ·faultLine(SB), DI
	LEAQ (const_faultLineLen-32)(DI), R15
	LEAQ ·msgPrefix(SB), R14
	APPEND(R14)
	LEAQ ·msgNone(SB), R14
	APPEND(R14)

tail:
	LEAQ ·faultLine(SB), R15
	ADDQ $const_faultLineLen, R15
	MOVQ R12, AX
	SHLQ $4, AX
	LEAQ ·sigMsgs(SB), R14
	ADDQ AX, R14
	APPEND(R14)
	LEAQ ·faultLine(SB), SI
	MOVQ DI, DX
	SUBQ SI, DX
	MOVQ $1, AX              // write(2, faultLine, DX)
	MOVQ $2, DI
	SYSCALL
	MOVQ ·faultExit(SB), DI
	MOVQ $231, AX            // exit_group
	SYSCALL
	HLT

GLOBL ·faultHandlerABI0(SB), NOPTR|RODATA, $8
DATA ·faultHandlerABI0(SB)/8, $faultHandler<>(SB)
