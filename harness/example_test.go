package harness_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/harness"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/tick"
)

// Examples have no *testing.T, so they run their body with runTest; in
// your tests write func TestXxx(t *testing.T) and use t directly.

func ExampleStart() {
	runTest(func(t testing.TB) { // func TestTicks(t *testing.T) {
		w := harness.Start(t, harness.Partitions(3))
		produced := w.Produce(t, tick.Tick{Symbol: "HSI", TradeDate: "2010-01-11", Close: 22411.5})

		fmt.Println("brokers:", len(w.KafkaAddrs()))
		fmt.Println("topic:", w.Topic(), "partitions:", w.Partitions())
		fmt.Println("bucket:", w.Bucket())
		fmt.Println("produced:", produced[0].Key, produced[0].Tick.TradeDate, "at offset", produced[0].Offset)
	})
	// Output:
	// brokers: 3
	// topic: stock-ticks partitions: 3
	// bucket: tickflow-lake
	// produced: HSI 2010-01-11 at offset 0
}

func ExampleWorld_Faults() {
	runTest(func(t testing.TB) {
		w := harness.Start(t)

		// Broker 0 goes down; producing goes on through the others.
		w.Faults().StopBroker(0)
		fmt.Println("brokers up:", len(w.KafkaAddrs()))
		w.ProduceSynthetic(t, 100, 1)
		w.Faults().RestartBroker(0)

		// The next 3 produce requests are answered NOT_LEADER_FOR_PARTITION;
		// the producer refreshes metadata, retries, and loses nothing.
		f := w.Faults().FailKafka(kmsg.Produce, kerr.NotLeaderForPartition, 3)
		w.ProduceSynthetic(t, 100, 2)
		fmt.Println("faulted requests:", f.Hits())
		fmt.Println("records in topic:", len(w.ReadTopic(t)))
	})
	// Output:
	// brokers up: 2
	// faulted requests: 3
	// records in topic: 200
}

func ExampleWorld_StartSink() {
	runTest(func(t testing.TB) {
		w := harness.Start(t)
		produced := w.ProduceSynthetic(t, 1000, 42)

		w.StartSink(t) // tickflow's exactly-once S3 sink
		w.WaitCaughtUp(t, harness.SinkGroup, time.Minute)

		l := w.Lake(t)
		l.RequireComplete(produced) // every record exactly once
		rep := l.RequireContractClean(lake.ExpectRecords(1000))
		fmt.Println("rows:", rep.Rows, "format:", rep.Format, "glue tables:", len(rep.Tables))
	})
	// Output:
	// rows: 1000 format: parquet glue tables: 1
}

func ExampleLake_RequireComplete() {
	runTest(func(t testing.TB) {
		w := harness.Start(t, harness.Partitions(1))
		produced := w.ProduceSynthetic(t, 10, 1)
		s := w.StartSink(t)
		w.WaitCaughtUp(t, harness.SinkGroup, time.Minute)
		_ = s.Stop()

		// Two more records after the sink stopped: the assertion names them.
		later := w.ProduceSynthetic(t, 2, 2)
		r := run("inner", func(t testing.TB) { w.Lake(t).RequireComplete(append(produced, later...)) })
		fmt.Println("failed:", r.Failed())
		for _, p := range later {
			fmt.Println("listed as missing:", p.String(), contains(r.Messages(), p.String()))
		}
	})
	// Output:
	// failed: true
	// listed as missing: 0/10 NYA 2000-01-03 true
	// listed as missing: 0/11 IXIC 2000-01-03 true
}
