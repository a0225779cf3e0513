package broker_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/aws/smithy-go"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/objstore"
)

func ExampleStart() {
	ctx := context.Background()
	w, err := broker.Start(ctx, broker.Brokers(3), broker.Topic("stock-ticks", 6))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	topics, err := w.Coordinator().Topics(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("brokers:", len(w.KafkaAddrs()))
	fmt.Println("topic:", topics[0].Name, "partitions:", len(topics[0].Partitions))
	fmt.Println("bucket:", w.Bucket(), "region:", w.Region())
	// Output:
	// brokers: 3
	// topic: stock-ticks partitions: 6
	// bucket: tickflow-lake region: us-east-1
}

func ExampleCoordinator_StopBroker() {
	ctx := context.Background()
	w, err := broker.Start(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	c := w.Coordinator()

	// Broker 0 goes down: its port refuses connections and its partitions
	// get new leaders. Only leadership moves; kfake has no replicas to lose.
	if err := c.StopBroker(0); err != nil {
		log.Fatal(err)
	}
	fmt.Println("up:", len(w.KafkaAddrs()))
	if err := c.RestartBroker(0); err != nil {
		log.Fatal(err)
	}
	fmt.Println("up:", len(w.KafkaAddrs()))
	// Output:
	// up: 2
	// up: 3
}

func ExampleCoordinator_FailS3() {
	ctx := context.Background()
	w, err := broker.Start(ctx, broker.Brokers(1))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	store, err := objstore.NewS3(ctx, objstore.S3Config{
		Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Region: w.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey, MaxAttempts: 1,
	})
	if err != nil {
		log.Fatal(err)
	}

	// The next two PUTs under stock_ticks/ get 503 SlowDown, then S3 recovers.
	f := w.Coordinator().FailS3(broker.S3Fault{Op: "PUT", KeyPrefix: "stock_ticks/", Status: 503, Count: 2})
	defer f.Remove()
	for i := 0; i < 3; i++ {
		err := store.Put(ctx, "stock_ticks/obj", []byte("x"), nil)
		var ae smithy.APIError
		if errors.As(err, &ae) {
			fmt.Println("put:", ae.ErrorCode())
		} else {
			fmt.Println("put:", err)
		}
	}
	fmt.Println("faulted:", f.Hits())
	// Output:
	// put: SlowDown
	// put: SlowDown
	// put: <nil>
	// faulted: 2
}
