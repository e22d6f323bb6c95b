// idle.go - Go twin of bench_idle.c: GOMAXPROCS(8), run one goroutine,
// then sleep and report the CPU time the process used meanwhile.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"syscall"
	"time"
)

func cpuMs(r *syscall.Rusage) float64 {
	return float64(r.Utime.Nano()+r.Stime.Nano()) / 1e6
}

func main() {
	workers := flag.Int("w", 8, "GOMAXPROCS")
	secs := flag.Int64("s", 10, "seconds idle")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)

	done := make(chan struct{})
	go func() { close(done) }()
	<-done
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	time.Sleep(time.Duration(*secs) * time.Second)
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	fmt.Printf("idle_workers %d\n", *workers)
	fmt.Printf("idle_seconds %d\n", *secs)
	fmt.Printf("idle_cpu_ms %.2f\n", cpuMs(&r1)-cpuMs(&r0))
	fmt.Printf("idle_ctxsw %d\n", (r1.Nvcsw-r0.Nvcsw)+(r1.Nivcsw-r0.Nivcsw))
}
