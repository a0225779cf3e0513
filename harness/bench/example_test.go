package bench_test

import (
	"context"
	"fmt"
	"os"

	"github.com/tickflow/tickflow/harness/bench"
)

// A small bench printed as a table. Timings vary from run to run, so the
// example has no fixed output.
func ExampleRun() {
	rep, err := bench.Run(context.Background(), bench.Records(50_000), bench.Runs(1), bench.SkipMemory())
	if err != nil {
		fmt.Println(err)
		return
	}
	rep.WriteTable(os.Stdout)
	for _, t := range rep.Targets {
		fmt.Printf("%s: %.2f (%s) met=%v\n", t.Name, t.Got, t.Want, t.OK)
	}
}

// Bad options are refused before anything starts, naming the option.
func ExampleValidate() {
	err := bench.Validate(bench.Records(0))
	fmt.Println(err)
	// Output: bench: records = 0: want 1..50000000
}
