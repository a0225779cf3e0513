package dashboard

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// The metrics served on /metrics. World gauges come from the latest sample
// (at most one SampleInterval old); S3 counters are read live and restart
// from 0 with each new world (Prometheus treats that as a counter reset).
var (
	descBrokerUp = prometheus.NewDesc("tickflow_broker_up",
		"1 if the broker is up, 0 if it was stopped.", []string{"broker"}, nil)
	descBrokerLeaders = prometheus.NewDesc("tickflow_broker_leader_partitions",
		"Partitions the broker currently leads.", []string{"broker"}, nil)
	descPartStart = prometheus.NewDesc("tickflow_partition_start_offset",
		"Log start offset of the partition.", []string{"topic", "partition"}, nil)
	descPartEnd = prometheus.NewDesc("tickflow_partition_end_offset",
		"Log end offset (high watermark) of the partition: records ever produced to it.", []string{"topic", "partition"}, nil)
	descPartLeader = prometheus.NewDesc("tickflow_partition_leader",
		"Broker id leading the partition (-1: none).", []string{"topic", "partition"}, nil)
	descGroupLag = prometheus.NewDesc("tickflow_consumer_group_lag",
		"Records the group has not committed yet: end offset minus committed offset, or minus the log start offset when nothing is committed.", []string{"group", "topic", "partition"}, nil)
	descGroupUncommitted = prometheus.NewDesc("tickflow_consumer_group_uncommitted_partitions",
		"Partitions of the topic the group has committed nothing for (their lag counts every record from the log start).", []string{"group", "topic"}, nil)
	descGroupCommitted = prometheus.NewDesc("tickflow_consumer_group_committed_offset",
		"The group's committed offset (-1: nothing committed).", []string{"group", "topic", "partition"}, nil)
	descGroupMembers = prometheus.NewDesc("tickflow_consumer_group_members",
		"Members in the consumer group.", []string{"group", "state"}, nil)
	descS3Requests = prometheus.NewDesc("tickflow_s3_requests_total",
		"Requests the fake S3 answered, by operation.", []string{"operation"}, nil)
	descS3Errors = prometheus.NewDesc("tickflow_s3_errors_total",
		"Fake S3 answers with a 4xx/5xx status, by operation and status (injected ones included).", []string{"operation", "status"}, nil)
	descS3Injected = prometheus.NewDesc("tickflow_s3_injected_faults_total",
		"Fake S3 requests an injected fault failed, delayed or hung, by operation.", []string{"operation"}, nil)
	descFaultActions = prometheus.NewDesc("tickflow_fault_actions_total",
		"Fault actions taken through the dashboard, by action.", []string{"action"}, nil)
	descFaultsActive = prometheus.NewDesc("tickflow_faults_active",
		"Faults the dashboard has turned on, by kind (s3-errors, s3-latency, kafka-errors, kafka-latency).", []string{"kind"}, nil)
	descLakeObjects = prometheus.NewDesc("tickflow_lake_objects",
		"Objects under the lake's table location.", nil, nil)
	descLakeRows = prometheus.NewDesc("tickflow_lake_rows",
		"Rows in the lake, from the sink's object metadata.", nil, nil)
	descLakeBytes = prometheus.NewDesc("tickflow_lake_bytes",
		"Bytes of the lake's objects.", nil, nil)
	descWorld = prometheus.NewDesc("tickflow_world_attached",
		"1 while the dashboard watches a running world.", nil, nil)
)

// collector turns the latest sample into metrics at scrape time.
type collector struct{ s *Server }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBrokerUp, descBrokerLeaders, descPartStart, descPartEnd, descPartLeader,
		descGroupLag, descGroupUncommitted, descGroupCommitted, descGroupMembers, descS3Requests, descS3Errors, descS3Injected,
		descFaultActions, descFaultsActive, descLakeObjects, descLakeRows, descLakeBytes, descWorld} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	s.mu.Lock()
	snap := s.snap
	actions := make(map[string]int64, len(s.actions))
	for k, v := range s.actions {
		actions[k] = v
	}
	cur := s.cur
	s.mu.Unlock()

	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, a := range Actions {
		counter(descFaultActions, float64(actions[a]), a)
	}
	wv := snap.World
	if cur == nil || wv == nil {
		gauge(descWorld, 0)
		return
	}
	gauge(descWorld, 1)
	for _, b := range wv.Brokers {
		id := strconv.Itoa(int(b.ID))
		gauge(descBrokerUp, b2f(b.Up), id)
		gauge(descBrokerLeaders, float64(b.Leaders), id)
	}
	for _, t := range wv.Topics {
		for _, p := range t.Partitions {
			part := strconv.Itoa(int(p.Partition))
			gauge(descPartStart, float64(p.Start), t.Name, part)
			gauge(descPartEnd, float64(p.End), t.Name, part)
			gauge(descPartLeader, float64(p.Leader), t.Name, part)
		}
	}
	for _, g := range wv.Groups {
		gauge(descGroupMembers, float64(g.Members), g.Group, g.State)
		uncommitted := map[string]int{}
		for _, o := range g.Offsets {
			n := uncommitted[o.Topic] // 0 is a value too: every partition committed
			if o.NothingCommitted {
				n++
			}
			uncommitted[o.Topic] = n
			part := strconv.Itoa(int(o.Partition))
			gauge(descGroupCommitted, float64(o.Committed), g.Group, o.Topic, part)
			if o.Lag >= 0 {
				gauge(descGroupLag, float64(o.Lag), g.Group, o.Topic, part)
			}
		}
		for topic, n := range uncommitted {
			gauge(descGroupUncommitted, float64(n), g.Group, topic)
		}
	}
	// S3 counters are read live: they are cheap and must not lag.
	for _, o := range cur.w.S3Stats() {
		counter(descS3Requests, float64(o.Requests), o.Op)
		counter(descS3Injected, float64(o.Injected), o.Op)
		for st, n := range o.Errors {
			counter(descS3Errors, float64(n), o.Op, strconv.Itoa(st))
		}
	}
	active := map[string]float64{"s3-errors": 0, "s3-latency": 0, "kafka-errors": 0, "kafka-latency": 0}
	for _, f := range cur.activeFaults() {
		active[f.Kind]++
	}
	for k, v := range active {
		gauge(descFaultsActive, v, k)
	}
	gauge(descLakeObjects, float64(wv.Lake.Objects))
	gauge(descLakeRows, float64(wv.Lake.Rows))
	gauge(descLakeBytes, float64(wv.Lake.Bytes))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
