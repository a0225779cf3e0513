// Command fixturegen writes the lake fixtures under testdata/lakes (run via
// `go generate ./harness/lake`). The output is byte-for-byte deterministic;
// harness/lake's tests regenerate it and compare.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/tickflow/tickflow/harness/lake/internal/fixtures"
)

func main() {
	out := flag.String("out", "testdata/lakes", "folder to write the fixture lakes into (replaced lake by lake)")
	flag.Parse()
	if err := fixtures.Write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "fixturegen:", err)
		os.Exit(1)
	}
}
