package main

import (
	"fmt"
	"time"
)

func task(id int) {
	fmt.Printf("Task %d started\n", id)
	time.Sleep(time.Second)  // Simulate work
	fmt.Printf("Task %d completed\n", id)
}

func main() {
	for i := 1; i <= 5; i++ {
		go task(i)  // Start each task in a separate goroutine
	}
	time.Sleep(6 * time.Second)  // Wait for all tasks to complete
	fmt.Println("Main function is done!")
}
