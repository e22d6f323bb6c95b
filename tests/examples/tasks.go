package main

import (
	"fmt"
	"sync"
	"time"
)

var wg sync.WaitGroup

func task(id int) {
	fmt.Printf("Task %d started\n", id)
	time.Sleep(time.Second) // Simulate work
	fmt.Printf("Task %d completed\n", id)
	wg.Done() // Tell main this task is finished
}

func main() {
	for i := 1; i <= 5; i++ {
		wg.Add(1)
		go task(i) // Start each task in a separate goroutine
	}
	wg.Wait() // Wait for all tasks to complete
	fmt.Println("Main function is done!")
}
