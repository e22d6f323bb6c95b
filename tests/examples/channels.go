package main

import "fmt"

func sendData(ch chan string) {
	ch <- "Hello from goroutine!"
}

func main() {
	ch := make(chan string)
	go sendData(ch) // Send data from a goroutine
	msg := <-ch     // Receive data from the channel
	fmt.Println(msg)
}
