/*
 * sysloop - makes one syscall in a tight loop and prints the mean cost
 * per call, for the weir trace benchmark (tools/bench-trace.sh).
 *
 * Usage: sysloop getpid|write N [gate]
 *
 * getpid calls syscall(SYS_getpid); write writes 1 byte to /dev/null. With
 * gate, it first blocks reading one byte from stdin, so that a tracer can
 * attach to its pid before the loop starts. It prints
 * "CALL N CPU_NS_PER_CALL WALL_NS_PER_CALL" on stdout: the thread's CPU
 * time (CLOCK_THREAD_CPUTIME_ID, which includes the time the kernel and
 * any BPF program spend in its calls, and not the time it waits for a CPU
 * on a loaded machine) and the wall time (CLOCK_MONOTONIC), around the
 * loop alone.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: sysloop getpid|write N [gate]\n");
		return 2;
	}
	int write_loop = strcmp(argv[1], "write") == 0;
	if (!write_loop && strcmp(argv[1], "getpid") != 0) {
		fprintf(stderr, "sysloop: unknown call %s\n", argv[1]);
		return 2;
	}
	long n = atol(argv[2]);
	int fd = open("/dev/null", O_WRONLY);
	if (fd < 0 || n <= 0) {
		perror("sysloop");
		return 1;
	}
	if (argc > 3) {
		char c;
		if (read(0, &c, 1) != 1)
			return 1;
	}
	struct timespec a, b, ca, cb;
	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ca);
	if (write_loop) {
		for (long i = 0; i < n; i++)
			if (write(fd, "x", 1) != 1)
				return 1;
	} else {
		for (long i = 0; i < n; i++)
			syscall(SYS_getpid);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	double cns = (cb.tv_sec - ca.tv_sec) * 1e9 + (cb.tv_nsec - ca.tv_nsec);
	printf("%s %ld %.1f %.1f\n", argv[1], n, cns / n, ns / n);
	return 0;
}
