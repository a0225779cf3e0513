package broker_test

import (
	"context"
	"fmt"
	"log"

	"github.com/tickflow/tickflow/broker"
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
