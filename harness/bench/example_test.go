package bench_test

import (
	"context"
	"errors"
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

// Your own consumer program, any language, against tickflow's sink in the
// same run: two processes over 200,000 records, until its group has
// committed every partition's end.
func ExampleConsumer() {
	rep, err := bench.Run(context.Background(), bench.Records(200_000), bench.SkipMemory(),
		bench.Consumer("exec python3 consumer.py"), bench.Instances(2))
	var ce *bench.ConsumerError
	if errors.As(err, &ce) {
		fmt.Println(ce) // the command, why, and the end of each instance's output
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	c := rep.Consumer
	if c.TimedOut {
		fmt.Printf("did not drain within %.0fs: %d of %d records\n", c.DrainTimeout, c.Records, c.Total)
		return
	}
	fmt.Printf("%.0f records/s = %.2f× the ceiling, %.2f× tickflow's sink; first object after %.1fs; peak RSS %d MiB, CPU %.1fs\n",
		c.Rate, c.VsCeiling, c.VsSink, c.FirstObjectSeconds, c.PeakRSS>>20, c.CPUSeconds)
}

// Bad options are refused before anything starts, naming the option.
func ExampleValidate() {
	err := bench.Validate(bench.Records(0))
	fmt.Println(err)
	// Output: bench: records = 0: want 1..50000000
}
