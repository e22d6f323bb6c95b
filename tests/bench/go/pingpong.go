// pingpong.go - Go twin of bench_pingpong.c: two goroutines bounce one
// byte over a non-blocking socketpair N times through the netpoller;
// prints ns per round trip.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

func conn(fd int) net.Conn {
	if err := syscall.SetNonblock(fd, true); err != nil {
		panic(err)
	}
	f := os.NewFile(uintptr(fd), "socketpair")
	c, err := net.FileConn(f) // dups fd into the netpoller
	if err != nil {
		panic(err)
	}
	f.Close()
	return c
}

func xfer(c net.Conn, out bool) {
	b := []byte{'x'}
	var n int
	var err error
	if out {
		n, err = c.Write(b)
	} else {
		n, err = c.Read(b)
	}
	if n != 1 || err != nil {
		fmt.Fprintln(os.Stderr, "bench: transfer:", n, err)
		os.Exit(1)
	}
}

func main() {
	n := flag.Int64("n", 200000, "round trips")
	flag.Parse()
	N := *n

	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		panic(err)
	}
	a, b := conn(fds[0]), conn(fds[1])
	done := make(chan time.Duration)
	go func() {
		for i := int64(0); i < N; i++ {
			xfer(b, false)
			xfer(b, true)
		}
	}()
	go func() {
		t0 := time.Now()
		for i := int64(0); i < N; i++ {
			xfer(a, true)
			xfer(a, false)
		}
		done <- time.Since(t0)
	}()
	el := <-done
	fmt.Printf("pingpong_n %d\n", N)
	fmt.Printf("pingpong_ns %.1f\n", float64(el.Nanoseconds())/float64(N))
}
