package scenarios_test

import (
	"context"
	"fmt"

	"github.com/tickflow/tickflow/scenarios"
)

// Run one scenario; a failure carries the seed that replays it.
func ExampleRun() {
	res := scenarios.Run(context.Background(), "happy-path", scenarios.Config{Seed: 42})
	if !res.Pass {
		fmt.Println(res.Error, res.Failures, "replay with seed", res.Seed)
		return
	}
	fmt.Println(res.Status(), "lost:", res.Lost, "duplicated:", res.Duplicated, "all rows read back:", res.Rows == res.Records)
	// Output: pass lost: 0 duplicated: 0 all rows read back: true
}

// An unknown name is an error that lists the valid ones.
func ExampleLookup() {
	_, err := scenarios.Lookup("sink-crash")
	fmt.Println(err != nil)
	s, _ := scenarios.Lookup("sink-crash-mid-flush")
	fmt.Println(s.Name, s.Iterations(false), s.Iterations(true))
	// Output:
	// true
	// sink-crash-mid-flush 3 40
}
