// Package dashboard serves a live web page, a JSON API and Prometheus
// metrics for a running embedded world (package broker): brokers and
// partition leaders, topics with log offsets and records/s, consumer groups
// with per-partition lag and a lag-over-time chart (a partition with
// nothing committed lags by every record it holds, and says so), the lake
// under any folder of the bucket (Target.Prefix, Target.Table, or the
// page's folder selector: objects and rows per dt/hour folder, sizes,
// newest objects, the latest contract check with a re-run button), a message browser (by offset, time or key, headers
// and dead letters included), fault buttons that go through the
// Coordinator, an event log, and the progress of a scenario run or demo.
//
// The smallest use:
//
//	d, err := dashboard.Start(ctx) // http://127.0.0.1:8080/, or dashboard.Addr("127.0.0.1:0")
//	if err != nil { ... }
//	defer d.Close()
//	err = d.Watch(ctx, dashboard.Target{World: w}) // w from broker.Start
//	fmt.Println("open", d.URL())
//
// The page is one embedded HTML file with its script and style (no CDN: it
// works offline). It updates from server-sent events, one per sample
// (SampleInterval, default 1 s); requests read the latest sample and never
// scan the world, so it stays responsive for big worlds. /metrics serves
// the tickflow_* metrics (see metrics.go) in Prometheus's text format.
//
// Safe by default: it binds 127.0.0.1; fault actions, the contract check
// and the folder choice are POSTs with a JSON body that refuse a foreign Origin or a cross-site request; there are no
// CORS headers; requests naming a host other than an IP address or
// localhost are refused (DNS rebinding); the page cannot be framed.
package dashboard
