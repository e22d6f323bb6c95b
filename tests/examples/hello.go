package main

import (
	"fmt"
	"time"
)

func sayHello() {
	fmt.Println("Hello from goroutine!")
}

func main() {
	go sayHello()  // Starts sayHello in a new goroutine
	time.Sleep(time.Second)  // Wait for goroutine to finish
	fmt.Println("Main function is done!")
}
