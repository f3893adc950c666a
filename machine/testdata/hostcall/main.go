//go:build wasip1

// hostcall makes N round trips to the guest kernel (close of fd -1, which
// fails with EBADF), for the benchmark of a system call's cost from a Go
// guest.
package main

import (
	"os"
	"strconv"

	"fencelab/guests/go/linux"
)

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	for range n {
		if linux.Close(-1) != linux.EBADF {
			os.Exit(1)
		}
	}
}
