// ring.go - Go twin of bench_ring.c: a token passed H hops around a ring
// of N goroutines over unbuffered channels of int (the hops left); the
// clock starts once every goroutine waits in its first receive.  Prints
// ns per hop.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

func main() {
	workers := flag.Int("w", 1, "GOMAXPROCS")
	n := flag.Int("n", 1000, "ring size")
	h := flag.Int("h", 1000000, "hops")
	flag.Parse()
	if *n < 2 {
		fmt.Fprintln(os.Stderr, "bench_ring: need N >= 2")
		os.Exit(1)
	}
	runtime.GOMAXPROCS(*workers)
	N, H := *n, *h

	chans := make([]chan int, N)
	for i := range chans {
		chans[i] = make(chan int)
	}
	done := make(chan struct{})
	var ready, exited sync.WaitGroup

	member := func(i int) {
		left, right := chans[i], chans[(i+1)%N]
		startedWave := false
		ready.Done()
		for {
			t := <-left
			if t > 0 {
				right <- t - 1
			} else if t == 0 {
				done <- struct{}{}
				startedWave = true
				right <- -1
			} else {
				if !startedWave {
					right <- t
				}
				break
			}
		}
		exited.Done()
	}

	res := make(chan float64)
	go func() {
		ready.Add(N)
		exited.Add(N)
		for i := 0; i < N; i++ {
			go member(i)
		}
		ready.Wait()
		t0 := time.Now()
		chans[0] <- H
		<-done
		r := float64(time.Since(t0).Nanoseconds()) / float64(H)
		exited.Wait()
		res <- r
	}()
	r := <-res
	fmt.Printf("ring_workers %d\n", *workers)
	fmt.Printf("ring_size %d\n", N)
	fmt.Printf("ring_hops %d\n", H)
	fmt.Printf("ring_ns %.1f\n", r)
}
