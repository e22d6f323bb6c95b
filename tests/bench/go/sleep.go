// sleep.go - Go twin of bench_sleep.c: N goroutines each sleep 1 ms and
// record how long they actually slept; prints p50, p99, max and wall time.
package main

import (
	"flag"
	"fmt"
	"sort"
	"sync/atomic"
	"time"
)

func main() {
	n := flag.Int64("n", 10000, "goroutines")
	flag.Parse()
	N := *n

	slept := make([]time.Duration, N)
	var nextSlot, finished atomic.Int64
	var tEnd time.Time
	done := make(chan struct{})

	tStart := time.Now()
	go func() {
		for i := int64(0); i < N; i++ {
			go func() {
				t0 := time.Now()
				time.Sleep(time.Millisecond)
				slept[nextSlot.Add(1)-1] = time.Since(t0)
				if finished.Add(1) == N {
					tEnd = time.Now()
					close(done)
				}
			}()
		}
	}()
	<-done
	sort.Slice(slept, func(i, j int) bool { return slept[i] < slept[j] })
	ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	fmt.Printf("sleep_n %d\n", N)
	fmt.Printf("sleep_p50_ms %.3f\n", ms(slept[N/2]))
	fmt.Printf("sleep_p99_ms %.3f\n", ms(slept[N*99/100]))
	fmt.Printf("sleep_max_ms %.3f\n", ms(slept[N-1]))
	fmt.Printf("sleep_wall_ms %.3f\n", ms(tEnd.Sub(tStart)))
}
