package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/dashboard"
)

// Start a dashboard for an embedded world and read what the page shows
// through its JSON API.
func ExampleStart() {
	ctx := context.Background()
	w, err := broker.Start(ctx) // 3 brokers, topic stock-ticks, bucket tickflow-lake
	if err != nil {
		panic(err)
	}
	defer w.Close()
	d, err := dashboard.Start(ctx, dashboard.Addr("127.0.0.1:0")) // default 127.0.0.1:8080
	if err != nil {
		panic(err)
	}
	defer d.Close()
	if err := d.Watch(ctx, dashboard.Target{World: w}); err != nil { // returns once the world is sampled
		panic(err)
	}

	resp, err := http.Get(d.URL() + "api/state")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var s dashboard.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		panic(err)
	}
	fmt.Println("brokers:", len(s.World.Brokers), "controller:", s.World.Controller)
	fmt.Println("topic:", s.World.Topics[0].Name, "partitions:", len(s.World.Topics[0].Partitions))
	// Output:
	// brokers: 3 controller: 2
	// topic: stock-ticks partitions: 6
}
