// select.go - Go twin of bench_select.c: ping-pong where each side waits
// in a two-case select (its incoming channel, or a quit channel closed at
// the end) and then sends; prints ns per round trip after a warm-up.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

func run(n int64) time.Duration {
	ping, pong, quit := make(chan int), make(chan int), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case v := <-ping:
				pong <- v + 1
			case <-quit:
				return
			}
		}
	}()
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		ping <- int(i)
		select {
		case v := <-pong:
			if v != int(i)+1 {
				fmt.Fprintln(os.Stderr, "bench: select: wrong value")
				os.Exit(1)
			}
		case <-quit:
			fmt.Fprintln(os.Stderr, "bench: select: wrong value")
			os.Exit(1)
		}
	}
	el := time.Since(t0)
	close(quit)
	wg.Wait()
	return el
}

func main() {
	workers := flag.Int("w", 1, "GOMAXPROCS")
	n := flag.Int64("n", 1000000, "round trips")
	flag.Parse()
	if *n < 10 {
		fmt.Fprintln(os.Stderr, "bench_select: -n needs at least 10")
		os.Exit(1)
	}
	runtime.GOMAXPROCS(*workers)
	N := *n

	res := make(chan float64)
	go func() {
		run(N / 10)
		res <- float64(run(N).Nanoseconds()) / float64(N)
	}()
	r := <-res
	fmt.Printf("select_workers %d\n", *workers)
	fmt.Printf("select_n %d\n", N)
	fmt.Printf("select_ns %.1f\n", r)
}
