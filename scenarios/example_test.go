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

// Put a consumer of your own — any program, any language — under a
// scenario and assert on what it did to the records. The command gets the
// world in its environment (KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC,
// KAFKA_GROUP_ID, AWS_ENDPOINT_URL_S3, TICKFLOW_BUCKET, …) and in
// {placeholders}; the verdict matches every row in the bucket to the
// records produced.
func ExampleRun_consumer() {
	cfg := scenarios.Config{Seed: 7, Consumer: &scenarios.Consumer{
		Command: "/usr/bin/python3 examples/python/consumer.py",
		Out:     "/tmp/evidence", // the lake, the produced records, every write and commit, the verdict
	}}
	res := scenarios.Run(context.Background(), "sink-kill-9", cfg)
	if v := res.Verdict; v != nil {
		fmt.Println(res.Status(), "lost:", v.Lost, "duplicated:", v.Duplicated, "overwritten:", v.Overwritten)
		for _, r := range v.LostExamples {
			fmt.Println("lost", r.Partition, r.Offset, r.Key)
		}
	}
}
