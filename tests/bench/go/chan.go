// chan.go - Go twin of bench_chan.c: an unbuffered ping-pong of ints (ns
// per round trip), then producers/consumers over a channel of capacity
// 1024 as 1/1 and 4/4 (ns per message); each part warmed up first at a
// tenth of its size.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

func pingpong(n int64) time.Duration {
	ping, pong := make(chan int), make(chan int)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		for i := int64(0); i < n; i++ {
			pong <- (<-ping) + 1
		}
		wg.Done()
	}()
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		ping <- int(i)
		if <-pong != int(i)+1 {
			fmt.Fprintln(os.Stderr, "bench: pingpong: wrong value")
			os.Exit(1)
		}
	}
	el := time.Since(t0)
	wg.Wait()
	return el
}

func prodcons(m int64, np, nc int) time.Duration {
	ch := make(chan int, 1024)
	per := m / int64(np)
	left := int32(np)
	var sum atomic.Int64
	var consumers sync.WaitGroup
	consumers.Add(nc)
	t0 := time.Now()
	for i := 0; i < nc; i++ {
		go func() {
			s := int64(0)
			for v := range ch {
				s += int64(v)
			}
			sum.Add(s)
			consumers.Done()
		}()
	}
	for i := 0; i < np; i++ {
		go func() {
			for j := int64(0); j < per; j++ {
				ch <- 1
			}
			if atomic.AddInt32(&left, -1) == 0 {
				close(ch)
			}
		}()
	}
	consumers.Wait()
	el := time.Since(t0)
	if sum.Load() != per*int64(np) {
		fmt.Fprintf(os.Stderr, "bench: prodcons %d/%d: received %d of %d\n",
			np, nc, sum.Load(), per*int64(np))
		os.Exit(1)
	}
	return el
}

func main() {
	workers := flag.Int("w", 1, "GOMAXPROCS")
	n := flag.Int64("n", 1000000, "round trips")
	m := flag.Int64("m", 10000000, "messages")
	flag.Parse()
	if *n < 10 || *m < 40 {
		fmt.Fprintln(os.Stderr, "bench_chan: -n needs at least 10, -m at least 40")
		os.Exit(1)
	}
	runtime.GOMAXPROCS(*workers)
	N, M := *n, *m
	M4 := M / 4 * 4

	// The C version drives from a goroutine; so do we.
	type result struct{ unbuf, buf1, buf4 float64 }
	res := make(chan result)
	go func() {
		var r result
		pingpong(N / 10)
		r.unbuf = float64(pingpong(N).Nanoseconds()) / float64(N)
		prodcons(M/10, 1, 1)
		r.buf1 = float64(prodcons(M, 1, 1).Nanoseconds()) / float64(M)
		prodcons(M4/10/4*4, 4, 4)
		r.buf4 = float64(prodcons(M4, 4, 4).Nanoseconds()) / float64(M4)
		res <- r
	}()
	r := <-res
	fmt.Printf("chan_workers %d\n", *workers)
	fmt.Printf("chan_unbuf_n %d\n", N)
	fmt.Printf("chan_unbuf_ns %.1f\n", r.unbuf)
	fmt.Printf("chan_buf_n %d\n", M)
	fmt.Printf("chan_buf1_ns %.2f\n", r.buf1)
	fmt.Printf("chan_buf4_ns %.2f\n", r.buf4)
}
