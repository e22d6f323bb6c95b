// spawn.go - Go twin of bench_spawn.c: start N goroutines that each
// increment a counter and wait (yielding) until all have run; a warm-up
// round first.  Prints ns per goroutine.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

var counter atomic.Int64

func incr() {
	counter.Add(1)
}

func oneRound(n, batch int64) time.Duration {
	t0 := time.Now()
	counter.Store(0)
	for i := int64(0); i < n; {
		end := i + batch
		if end > n {
			end = n
		}
		for ; i < end; i++ {
			go incr()
		}
		for counter.Load() < end {
			runtime.Gosched()
		}
	}
	return time.Since(t0)
}

func main() {
	n := flag.Int64("n", 1000000, "goroutines")
	workers := flag.Int("w", 1, "GOMAXPROCS")
	batch := flag.Int64("b", 0, "batch size (0 = all at once)")
	flag.Parse()
	if *batch <= 0 || *batch > *n {
		*batch = *n
	}
	runtime.GOMAXPROCS(*workers)

	// The C version spawns from a goroutine; so do we.
	res := make(chan time.Duration)
	go func() {
		oneRound(*n, *batch)
		res <- oneRound(*n, *batch)
	}()
	el := <-res
	fmt.Printf("spawn_n %d\n", *n)
	fmt.Printf("spawn_workers %d\n", *workers)
	fmt.Printf("spawn_batch %d\n", *batch)
	fmt.Printf("spawn_ns %.2f\n", float64(el.Nanoseconds())/float64(*n))
}
