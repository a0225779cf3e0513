package demo_test

import (
	"context"
	"fmt"

	"github.com/tickflow/tickflow/harness/demo"
)

// The whole pipeline on the embedded Hang Seng sample: every good row lands
// in the lake exactly once; the cut-off last line is skipped and counted.
func ExampleRun() {
	sum, err := demo.Run(context.Background(), demo.Config{}, nil)
	if err != nil {
		fmt.Println("demo failed:", err)
		return
	}
	fmt.Printf("produced %d, landed %d, duplicates %d, skipped %d bad row at line %d\n",
		sum.Produced, sum.LandedRows, sum.Duplicates, sum.SkippedBadRows, sum.BadRows[0].Line)
	// Output: produced 5692, landed 5692, duplicates 0, skipped 1 bad row at line 5694
}
