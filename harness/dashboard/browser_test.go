package dashboard_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

var screenshot = flag.String("screenshot", "", "write a PNG of the page at the end of TestBrowser to this file (make screenshot: docs/dashboard.png)")

// findBrowser returns a Chromium or Chrome binary: $CHROME_PATH, Debian's
// /usr/bin/chromium, or one on PATH.
func findBrowser() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts a headless browser for the test, or skips the test
// when none is installed and CI is unset (in CI a missing browser fails).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := findBrowser()
	if path == "" {
		if os.Getenv("CI") == "" {
			t.Skip("skipped: no Chromium/Chrome found (apt-get install chromium, or set CHROME_PATH); this test fails instead when CI is set")
		}
		t.Fatal("no Chromium/Chrome found and CI is set: install Debian's chromium (.ci/run does) or set CHROME_PATH")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx), "start %s", path)
	return ctx
}

// waitJS polls a JavaScript expression until it is true, failing with what
// describe (another expression) says the page shows.
func waitJS(t *testing.T, ctx context.Context, what, expr, describe string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	_, err := chromedp.Run(wctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(55*time.Second)))
	if err != nil {
		shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](describe))
		t.Fatalf("page: %s: %v; the page shows: %s", what, err, shown)
	}
}

// TestBrowser opens the dashboard of a running world in a headless browser
// and uses it like a person would: it sees the brokers and topics, watches
// a group's lag fall to 0 while a sink drains, stops a broker with its
// button, and finds a produced record in the message browser.
func TestBrowser(t *testing.T) {
	ctx := newBrowser(t)
	f := start(t)
	c := f.w.Coordinator()
	const group = "browser-sink"
	p := produceTicks(t, f.w, 3000)
	want := p.records[1234]

	// The group exists with everything still to consume: commit offset 0 on
	// every partition before any sink runs, so the page has a lag to show.
	cl, err := kgo.NewClient(kafkaOpts(f.w)...)
	require.NoError(t, err)
	defer cl.Close()
	offs := kadm.Offsets{}
	for part := range int32(6) {
		offs.Add(kadm.Offset{Topic: tick.DefaultTopic, Partition: part, At: 0, LeaderEpoch: -1})
	}
	resp, err := kadm.NewClient(cl).CommitOffsets(context.Background(), group, offs)
	require.NoError(t, err)
	require.NoError(t, resp.Error())

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.url)))

	// Brokers and topics.
	waitJS(t, ctx, "three brokers up", `document.querySelectorAll('#brokers tbody tr .state').length === 3 &&
		[...document.querySelectorAll('#brokers tbody tr .state')].every(e => e.textContent === 'up')`,
		`document.querySelector('#brokers').innerText`)
	waitJS(t, ctx, "the topic with every record", fmt.Sprintf(`(() => { const e = document.querySelector('#topic-stock-ticks .records'); return e && e.textContent === %q; })()`, fmt.Sprintf("%d,%03d", p.total/1000, p.total%1000)),
		`document.querySelector('#topics').innerText`)
	partitions, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#topic-stock-ticks .part').length`))
	require.NoError(t, err)
	assert.Equal(t, 6, partitions)

	// The group's lag: all records behind, then 0 once a sink drains it.
	lagSel := fmt.Sprintf(`#group-%s .lag`, group)
	waitJS(t, ctx, "the group lagging by every record", fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e && e.dataset.lag === '%d'; })()`, lagSel, p.total),
		`document.querySelector('#groups').innerText`)
	runSink(t, f.w, group)
	waitJS(t, ctx, "the group's lag at 0 after the sink drained", fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e && e.dataset.lag === '0'; })()`, lagSel),
		`document.querySelector('#groups').innerText`)
	chartPoints, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelector('#group-%s svg.chart polyline').getAttribute('points').split(' ').length`, group)))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, chartPoints, 2, "the lag chart has points")
	waitJS(t, ctx, "lake rows = records produced", fmt.Sprintf(`(() => { const e = document.querySelector('#lake-rows'); return e && e.textContent === %q; })()`, fmt.Sprintf("%d,%03d", p.total/1000, p.total%1000)),
		`document.querySelector('#lake').innerText`)

	// A lake under another folder: listed in the selector, and choosing it
	// makes the panel follow; then back to the root's stock_ticks/.
	st, err := objstore.NewS3(context.Background(), objstore.S3Config{Endpoint: f.w.S3Endpoint(), Bucket: f.w.Bucket(), Region: f.w.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey})
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, st.Put(context.Background(), fmt.Sprintf("clicks/dt=2024-03-04/hour=09/part-%d.json", i), []byte(`{"a":1}`+"\n"), nil))
	}
	waitJS(t, ctx, "the folder selector lists clicks/", `[...document.querySelectorAll('#lake-prefix option')].some(o => o.value === 'clicks/')`,
		`document.querySelector('#lake-prefix').innerText`)
	choose := func(prefix string) {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector('#lake-prefix'); s.value = %q; s.dispatchEvent(new Event('change', { bubbles: true })); })()`, prefix)))
		require.NoError(t, err)
	}
	choose("clicks/")
	waitJS(t, ctx, "the panel shows clicks/", `document.querySelector('#lake-location').textContent.endsWith('/clicks/') && document.querySelector('#lake-objects').textContent === '3'`,
		`document.querySelector('#lake').innerText`)
	choose("")
	waitJS(t, ctx, "the panel back on stock_ticks/", fmt.Sprintf(`document.querySelector('#lake-location').textContent.endsWith('/stock_ticks/') && document.querySelector('#lake-rows').textContent === %q`, fmt.Sprintf("%d,%03d", p.total/1000, p.total%1000)),
		`document.querySelector('#lake').innerText`)

	// The contract check button.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#verify-btn`))))
	waitJS(t, ctx, "the contract check passed", `(() => { const e = document.querySelector('#verify-verdict'); return e && e.textContent === 'OK'; })()`,
		`document.querySelector('#verify').innerText`)

	// A group that joined and committed nothing: every record waits, and
	// the page says "nothing committed".
	idle, err := kgo.NewClient(append(kafkaOpts(f.w), kgo.ConsumerGroup("browser-idle"), kgo.ConsumeTopics(tick.DefaultTopic),
		kgo.DisableAutoCommit(), kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(100*time.Millisecond))...)
	require.NoError(t, err)
	defer idle.Close()
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	for fs := idle.PollFetches(pctx); fs.NumRecords() == 0; fs = idle.PollFetches(pctx) {
		require.NoError(t, pctx.Err())
	}
	pcancel()
	waitJS(t, ctx, "the idle group lags by every record, nothing committed", fmt.Sprintf(`(() => { const e = document.querySelector('#group-browser-idle .lag');
		return e && e.dataset.lag === '%d' && e.dataset.uncommitted === '6' && document.querySelector('#group-browser-idle').innerText.includes('nothing committed'); })()`, p.total),
		`document.querySelector('#groups').innerText`)

	// Stop broker 1 with its button: down on the page and in the Coordinator.
	require.True(t, brokerUp(c, 1))
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[data-stop="1"]`))))
	waitJS(t, ctx, "broker 1 down", `(() => { const e = document.querySelector('#broker-1 .state'); return e && e.textContent === 'down'; })()`,
		`document.querySelector('#brokers').innerText`)
	assert.False(t, brokerUp(c, 1), "the Coordinator says broker 1 is down")
	waitJS(t, ctx, "the event log names the action", `document.querySelector('#events').innerText.includes('stopped broker 1')`,
		`document.querySelector('#events').innerText`)

	// The message browser: the record at its partition and offset, with its
	// header.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#msg-topic`), tick.DefaultTopic),
		chromedp.SetValue(chromedp.CSS(`#msg-partition`), fmt.Sprint(want.Partition)),
		chromedp.SetValue(chromedp.CSS(`#msg-mode`), "offset"),
		chromedp.SetValue(chromedp.CSS(`#msg-from`), fmt.Sprint(want.Offset)),
		chromedp.Click(chromedp.CSS(`#msg-go`)),
	))
	row := fmt.Sprintf(`tr.msg[data-partition="%d"][data-offset="%d"]`, want.Partition, want.Offset)
	waitJS(t, ctx, "the produced record in the browser", fmt.Sprintf(`document.querySelector(%q) !== null`, row),
		`document.querySelector('#msg-status').innerText + ' ' + document.querySelector('#messages').innerText`)
	text := func(sel string) string {
		v, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return v
	}
	key, value, headers := text(row+` td.key`), text(row+` td.value`), text(row+` td.headers`)
	assert.Equal(t, string(want.Key), key)
	assert.JSONEq(t, string(want.Value), strings.TrimSpace(value))
	assert.Equal(t, "seq=1234", strings.TrimSpace(headers))

	// Search by key over every partition.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#msg-partition`), "all"),
		chromedp.SetValue(chromedp.CSS(`#msg-mode`), "latest"),
		chromedp.SetValue(chromedp.CSS(`#msg-key`), "SYM5"),
		chromedp.Click(chromedp.CSS(`#msg-go`)),
	))
	waitJS(t, ctx, "50 records of key SYM5", `document.querySelectorAll('tr.msg').length === 50 &&
		[...document.querySelectorAll('tr.msg td.key')].every(e => e.textContent === 'SYM5')`,
		`document.querySelector('#msg-status').innerText`)

	if *screenshot != "" {
		// Show the record found by offset in the picture.
		_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			document.querySelector('#msg-key').value = '';
			document.querySelector('#msg-partition').value = '%d';
			document.querySelector('#msg-mode').value = 'offset';
			document.querySelector('#msg-from').value = '%d';
			document.querySelector('#msg-limit').value = '5';
		})()`, want.Partition, want.Offset)))
		require.NoError(t, err)
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#msg-go`))))
		waitJS(t, ctx, "records shown", fmt.Sprintf(`document.querySelector('tr.msg') !== null && document.querySelector('tr.msg').dataset.offset === '%d'`, want.Offset),
			`document.querySelector('#msg-status').innerText`)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(*screenshot, png, 0o644))
		t.Logf("wrote %s (%d bytes)", *screenshot, len(png))
	}
}
