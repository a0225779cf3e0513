package main

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/sink"
	"github.com/tickflow/tickflow/harness/sinkmetrics"
)

// sinkMetrics is `tickflow sink --metrics-addr`: the sink's Prometheus
// metrics (harness/sinkmetrics) plus Go runtime metrics on ADDR/metrics.
type sinkMetrics struct {
	m   *sinkmetrics.Metrics
	cl  *kgo.Client // for the group's lag
	srv *http.Server
	url string
}

// startSinkMetrics listens on addr (exit 2 naming --metrics-addr when it
// cannot) and serves /metrics until stop.
func startSinkMetrics(addr string, kopts []kgo.Opt, brokers []string, group, topic string) (*sinkMetrics, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || (host != "" && host != "localhost" && net.ParseIP(host) == nil) {
		return nil, usageError("--metrics-addr %q: want IP:PORT such as 127.0.0.1:9464 (port 0 picks a free one)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usageError("--metrics-addr %s: %v; pick another address (port 0 picks a free one)", addr, unwrapOp(err))
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, kopts...), kgo.SeedBrokers(brokers...))...)
	if err != nil {
		ln.Close()
		return nil, usageError("--metrics-addr: Kafka client for the lag: %v", err)
	}
	sm := &sinkMetrics{m: sinkmetrics.New(sinkmetrics.Lag(kadm.NewClient(cl), group, topic)), cl: cl,
		url: "http://" + ln.Addr().String() + "/metrics"}
	reg := prometheus.NewRegistry()
	reg.MustRegister(sm.m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	sm.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = sm.srv.Serve(ln) }() // ends with stop

	return sm, nil
}

func (sm *sinkMetrics) store(st objstore.Store) objstore.Store { return sm.m.Store(st) }
func (sm *sinkMetrics) attach(s *sink.Sink)                    { sm.m.Attach(s) }

func (sm *sinkMetrics) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = sm.srv.Shutdown(ctx)
	sm.cl.Close()
}
