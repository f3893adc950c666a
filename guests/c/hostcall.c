/*
 * hostcall: N round trips to the guest kernel, for the benchmark of a
 * system call's cost (machine/bench_test.go). Each is close(-1), which
 * goes through the whole system-call path and fails with EBADF.
 *
 * Usage: hostcall N
 */
#include <fencelab.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	for (long i = 0; i < n; i++)
		if (__fl_close(-1) != -9 /* EBADF */)
			return 1;
	return 0;
}
