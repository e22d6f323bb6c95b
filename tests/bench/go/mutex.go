// mutex.go - Go twin of bench_mutex.c: 8 goroutines each lock a
// sync.Mutex, increment a shared counter and unlock it, N pairs in all;
// prints ns per lock/unlock pair.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

const goroutines = 8

func main() {
	n := flag.Int64("n", 10000000, "lock/unlock pairs in all")
	workers := flag.Int("w", 0, "GOMAXPROCS (0: the default)")
	flag.Parse()
	if *workers > 0 {
		runtime.GOMAXPROCS(*workers)
	}
	per := *n / goroutines
	N := per * goroutines

	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := int64(0)
	t0 := time.Now()
	wg.Add(goroutines)
	for i := 0; i < goroutines; i++ {
		go func() {
			for j := int64(0); j < per; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	if counter != N {
		fmt.Fprintf(os.Stderr, "bench: counter is %d, want %d\n", counter, N)
		os.Exit(1)
	}
	fmt.Printf("mutex_n %d\n", N)
	fmt.Printf("mutex_workers %d\n", runtime.GOMAXPROCS(0))
	fmt.Printf("mutex_goroutines %d\n", goroutines)
	fmt.Printf("mutex_ns %.2f\n", float64(el.Nanoseconds())/float64(N))
}
