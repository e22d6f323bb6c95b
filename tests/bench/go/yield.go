// yield.go - Go twin of bench_yield.c: two goroutines on one P call
// runtime.Gosched() N times each; prints ns per yield.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

func main() {
	n := flag.Int64("n", 10000000, "yields per goroutine")
	flag.Parse()
	runtime.GOMAXPROCS(1)

	var ready, finished atomic.Int32
	var tStart, tEnd time.Time
	done := make(chan struct{})
	yielder := func() {
		if ready.Add(1) == 1 {
			for ready.Load() < 2 {
				runtime.Gosched()
			}
			tStart = time.Now()
		} else {
			runtime.Gosched()
		}
		for i := int64(0); i < *n; i++ {
			runtime.Gosched()
		}
		if finished.Add(1) == 2 {
			tEnd = time.Now()
			close(done)
		}
	}
	go yielder()
	go yielder()
	<-done
	fmt.Printf("yield_n %d\n", 2**n)
	fmt.Printf("yield_ns %.2f\n", float64(tEnd.Sub(tStart).Nanoseconds())/float64(2**n))
}
