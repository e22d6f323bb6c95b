package main

import "fmt"

func gen(out chan<- int) {
	for n := 1; n <= 5; n++ {
		out <- n
	}
	close(out) // The receiver's range loop ends after 5
}

func sq(in <-chan int, out chan<- int) {
	for n := range in {
		out <- n * n
	}
	close(out)
}

func main() {
	nums := make(chan int)
	squares := make(chan int)
	go gen(nums)         // First stage: 1, 2, 3, 4, 5
	go sq(nums, squares) // Second stage: their squares
	for s := range squares {
		fmt.Println(s)
	}
}
