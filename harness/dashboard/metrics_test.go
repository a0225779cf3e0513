package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/dashboard"
	"github.com/tickflow/tickflow/harness/tick"
)

// scrape parses /metrics with Prometheus's own text parser.
func (f *fixture) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(f.url + "metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err, "/metrics is not valid Prometheus text format")
	return fams
}

// values returns a family's samples keyed by their labels ("k=v,k=v").
func values(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	f := fams[name]
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		key := ""
		for i, l := range m.GetLabel() {
			if i > 0 {
				key += ","
			}
			key += l.GetName() + "=" + l.GetValue()
		}
		switch {
		case m.Gauge != nil:
			out[key] = m.GetGauge().GetValue()
		case m.Counter != nil:
			out[key] = m.GetCounter().GetValue()
		}
	}
	return out
}

func TestMetricsMatchWhatWasProduced(t *testing.T) {
	f := start(t)
	const group = "metrics-sink"
	p := produceTicks(t, f.w, 600)
	runSink(t, f.w, group)

	// Wait until the sampled world shows the group caught up.
	var fams map[string]*dto.MetricFamily
	eventually(t, 60*time.Second, "the scrape shows the group caught up on every record", func() (bool, string) {
		fams = f.scrape(t)
		lag := values(fams, "tickflow_consumer_group_lag")
		committed := values(fams, "tickflow_consumer_group_committed_offset")
		var sumLag, sumCommitted float64
		for k, v := range lag {
			if strings.HasPrefix(k, "group="+group+",") {
				sumLag += v
			}
		}
		for k, v := range committed {
			if strings.HasPrefix(k, "group="+group+",") && v >= 0 { // -1: a partition without records
				sumCommitted += v
			}
		}
		return len(lag) > 0 && sumLag == 0 && sumCommitted == float64(p.total),
			fmt.Sprintf("lag %v committed %v (want %d)", sumLag, sumCommitted, p.total)
	})

	// End offsets per partition = records produced to it.
	ends := values(fams, "tickflow_partition_end_offset")
	starts := values(fams, "tickflow_partition_start_offset")
	for part := int32(0); part < 6; part++ {
		k := fmt.Sprintf("partition=%d,topic=%s", part, tick.DefaultTopic)
		assert.Equal(t, float64(p.perPartition[part]), ends[k], k)
		assert.Equal(t, float64(0), starts[k], k)
	}
	// Per-partition lag is 0 and committed = end for each partition.
	committed := values(fams, "tickflow_consumer_group_committed_offset")
	for part, n := range p.perPartition {
		k := fmt.Sprintf("group=%s,partition=%d,topic=%s", group, part, tick.DefaultTopic)
		assert.Equal(t, float64(n), committed[k], k)
		assert.Equal(t, float64(0), values(fams, "tickflow_consumer_group_lag")[k], k)
	}
	// Every broker up; leaders add up to the partitions.
	up := values(fams, "tickflow_broker_up")
	assert.Equal(t, map[string]float64{"broker=0": 1, "broker=1": 1, "broker=2": 1}, up)
	var leaders float64
	for _, v := range values(fams, "tickflow_broker_leader_partitions") {
		leaders += v
	}
	assert.GreaterOrEqual(t, leaders, float64(6))

	// The lake: rows = records produced; S3 PUTs at least one per object.
	eventually(t, 10*time.Second, "the lake metrics show every row", func() (bool, string) {
		fams = f.scrape(t)
		rows := values(fams, "tickflow_lake_rows")[""]
		return rows == float64(p.total), fmt.Sprintf("rows %v", rows)
	})
	objects := values(fams, "tickflow_lake_objects")[""]
	assert.Greater(t, objects, float64(0))
	puts := values(fams, "tickflow_s3_requests_total")["operation=PUT"]
	assert.GreaterOrEqual(t, puts, objects)
	assert.Equal(t, float64(0), values(fams, "tickflow_s3_injected_faults_total")["operation=PUT"])
	assert.Equal(t, float64(1), values(fams, "tickflow_world_attached")[""])
	// Counters are typed as counters, with the _total suffix.
	for _, name := range []string{"tickflow_s3_requests_total", "tickflow_fault_actions_total"} {
		require.Contains(t, fams, name)
		assert.Equal(t, dto.MetricType_COUNTER, fams[name].GetType(), name)
	}
}

func TestMetricsFollowFaults(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	code, body := f.post(t, "api/faults", dashboard.Action{Action: "stop-broker", Broker: ptr(int32(1))}, nil)
	require.Equal(t, http.StatusOK, code, body)
	code, body = f.post(t, "api/faults", dashboard.Action{Action: "s3-errors", On: true, Op: "LIST", Share: 1, Status: 500}, nil)
	require.Equal(t, http.StatusOK, code, body)

	eventually(t, 10*time.Second, "broker 1 down and LIST errors counted", func() (bool, string) {
		fams := f.scrape(t)
		up := values(fams, "tickflow_broker_up")["broker=1"]
		errs := values(fams, "tickflow_s3_errors_total")["operation=LIST,status=500"]
		injected := values(fams, "tickflow_s3_injected_faults_total")["operation=LIST"]
		return up == 0 && errs > 0 && injected == errs, fmt.Sprintf("up %v errors %v injected %v", up, errs, injected)
	})
	fams := f.scrape(t)
	assert.Equal(t, float64(1), values(fams, "tickflow_fault_actions_total")["action=stop-broker"])
	assert.Equal(t, float64(1), values(fams, "tickflow_fault_actions_total")["action=s3-errors"])
	assert.Equal(t, float64(1), values(fams, "tickflow_faults_active")["kind=s3-errors"])
	require.NoError(t, f.d.Watch(ctx, dashboard.Target{}))
	fams = f.scrape(t)
	assert.Equal(t, float64(0), values(fams, "tickflow_world_attached")[""])
	assert.NotContains(t, fams, "tickflow_broker_up", "no world, no broker metrics")
}
