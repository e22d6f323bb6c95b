// park.go - Go twin of bench_park.c: N goroutines each increment a counter
// and sleep until a common deadline; spawn time and RSS per goroutine when
// the last one has parked, wake-up time, RSS after 1.5 s idle.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

func vmrssKB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	i := bytes.Index(b, []byte("VmRSS:"))
	if i < 0 {
		return -1
	}
	f := bytes.Fields(b[i+6:])
	v, _ := strconv.ParseInt(string(f[0]), 10, 64)
	return v
}

func main() {
	n := flag.Int64("n", 1000000, "goroutines")
	flag.Parse()
	N := *n

	rss0 := vmrssKB()
	var parked, woken atomic.Int64
	var tParked, tWoken time.Time
	var rssParked int64
	done := make(chan struct{})

	// The C version spawns from a goroutine; so do we.
	tStart := time.Now()
	deadline := tStart.Add(time.Second + time.Duration(N)*8*time.Microsecond)
	go func() {
		for i := int64(0); i < N; i++ {
			go func() {
				if parked.Add(1) == N {
					tParked = time.Now()
					rssParked = vmrssKB()
				}
				time.Sleep(time.Until(deadline))
				if woken.Add(1) == N {
					tWoken = time.Now()
					close(done)
				}
			}()
		}
	}()
	<-done
	time.Sleep(1500 * time.Millisecond)
	rssIdle := vmrssKB()

	late := 0
	if tParked.After(deadline) {
		late = 1
	}
	fmt.Printf("park_n %d\n", N)
	fmt.Printf("park_spawn_us %.3f\n", float64(tParked.Sub(tStart).Nanoseconds())/1e3/float64(N))
	fmt.Printf("park_rss_bytes %.0f\n", float64(rssParked-rss0)*1024/float64(N))
	fmt.Printf("park_late %d\n", late)
	fmt.Printf("park_wake_ms %.2f\n", float64(tWoken.Sub(deadline).Nanoseconds())/1e6)
	fmt.Printf("park_idle_rss_mb %.1f\n", float64(rssIdle)/1024)
}
