// sieve.go - Go twin of bench_sieve.c: the classic concurrent prime sieve
// (a generator plus one filter goroutine per prime, unbuffered channels)
// up to the Nth prime; prints the prime and the seconds taken.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"
)

func generate(ch chan<- int) {
	for i := 2; ; i++ {
		ch <- i
	}
}

func filter(in <-chan int, out chan<- int, prime int) {
	for {
		i := <-in
		if i%prime != 0 {
			out <- i
		}
	}
}

// nthPrime finds the nth prime by trial division, to check the sieve.
func nthPrime(n int) int {
	p := 1
	for n > 0 {
		p++
		d := 2
		for d*d <= p && p%d != 0 {
			d++
		}
		if d*d > p {
			n--
		}
	}
	return p
}

func main() {
	workers := flag.Int("w", 1, "GOMAXPROCS")
	n := flag.Int("n", 10000, "primes")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)
	N := *n
	want := nthPrime(N)

	type result struct {
		prime int
		el    time.Duration
	}
	res := make(chan result)
	go func() {
		t0 := time.Now()
		ch := make(chan int)
		go generate(ch)
		prime := 0
		for i := 0; i < N; i++ {
			prime = <-ch
			ch1 := make(chan int)
			go filter(ch, ch1, prime)
			ch = ch1
		}
		res <- result{prime, time.Since(t0)}
	}()
	r := <-res
	if r.prime != want {
		fmt.Fprintf(os.Stderr, "bench: sieve: prime %d is %d, not %d\n", N, r.prime, want)
		os.Exit(1)
	}
	fmt.Printf("sieve_workers %d\n", *workers)
	fmt.Printf("sieve_n %d\n", N)
	fmt.Printf("sieve_prime %d\n", r.prime)
	fmt.Printf("sieve_s %.3f\n", r.el.Seconds())
}
