package main

import (
	"fmt"
	"sync"
	"time"
)

var wg sync.WaitGroup

func worker(id int, jobs <-chan int, results chan<- int) {
	for j := range jobs {
		fmt.Printf("worker %d started job %d\n", id, j)
		time.Sleep(100 * time.Millisecond) // Simulate work
		fmt.Printf("worker %d finished job %d\n", id, j)
		results <- j * 2
	}
	wg.Done() // jobs is closed and drained: this worker is done
}

func main() {
	const numJobs = 5
	jobs := make(chan int, numJobs)
	results := make(chan int, numJobs)

	for w := 1; w <= 3; w++ {
		wg.Add(1)
		go worker(w, jobs, results) // Three workers, blocked until jobs come
	}
	for j := 1; j <= numJobs; j++ {
		jobs <- j // Queue the jobs
	}
	close(jobs) // No more jobs: each worker's range loop ends

	sum := 0
	for a := 1; a <= numJobs; a++ {
		sum += <-results // Collect the results
	}
	wg.Wait() // Every worker has returned
	fmt.Printf("sum of results: %d\n", sum)
}
