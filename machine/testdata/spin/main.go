//go:build wasip1

// spin is a broken guest: it waits for virtual time to pass by reading
// the clock in a loop, which never ends, as time stands still while a
// guest runs.
package main

import (
	"fmt"
	"time"
)

func main() {
	fmt.Println("waiting for a second to pass")
	start := time.Now()
	for time.Since(start) < time.Second {
	}
	fmt.Println("never printed")
}
