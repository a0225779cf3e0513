package program_test

import (
	"fmt"

	"github.com/tickflow/tickflow/harness/program"
)

// The world's coordinates reach a program as {placeholders} in its command
// and in its environment (Env), with credentials of its own per instance.
func ExampleCoordinates_Expand() {
	c := program.Coordinates{Brokers: []string{"127.0.0.1:9092"}, Topic: "stock-ticks", Group: "mine",
		S3Endpoint: "http://127.0.0.1:9000", Bucket: "tickflow-lake", Region: "us-east-1"}
	fmt.Println(c.Expand("python3 consumer.py --brokers {brokers} --topic {topic} --bucket {bucket} --instance {instance}", 2))
	access, _ := program.Credentials(2)
	fmt.Println(program.InstanceOf(access))
	// Output:
	// python3 consumer.py --brokers 127.0.0.1:9092 --topic stock-ticks --bucket tickflow-lake --instance 2
	// 2
}
