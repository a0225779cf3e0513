package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/dashboard"
)

// TestDemoUI: demo --ui serves the run live, shows the verdict and the
// contract check on the page, and keeps it up until Ctrl-C.
func TestDemoUI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := tickflowCommand(ctx, "demo", "--json", "--records", "3000", "--ui=127.0.0.1:0")
	stdout := &serveOutput{}
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	urlRe := regexp.MustCompile(`dashboard at (http://127\.0\.0\.1:\d+/)`)
	sc := bufio.NewScanner(stderr)
	url := ""
	for url == "" && sc.Scan() {
		if m := urlRe.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	require.NotEmpty(t, url, "demo --ui did not print the dashboard's address")
	go func() {
		for sc.Scan() {
		}
	}()

	var s dashboard.Snapshot
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(url + "api/state")
		if err == nil {
			s = dashboard.Snapshot{}
			err = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
		}
		if err == nil && s.Run != nil && s.Run.Phase == "done" && s.Verify != nil && !s.Verify.Running &&
			s.World != nil && s.World.Lake.Rows == 3000 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the page never showed the finished demo; last: %+v", s.Run)
		time.Sleep(100 * time.Millisecond)
	}
	assert.Equal(t, "demo", s.Run.Kind)
	assert.Contains(t, s.Run.Detail, "OK: 3,000 produced = 3,000 landed")
	assert.True(t, s.Verify.OK, "%+v", s.Verify)
	assert.Equal(t, int64(3000), s.Verify.Rows)
	require.NotNil(t, s.World)
	assert.Equal(t, int64(3000), s.World.Lake.Rows)
	var phases []string
	for _, e := range s.Events {
		if e.Action == "demo" {
			phases = append(phases, e.Detail)
		}
	}
	assert.Equal(t, []string{"demo: starting", "demo: joining", "demo: producing", "demo: draining", "demo: checking", "demo: done"}, phases)

	// The summary is printed (after the sample queries) before the page is
	// held until Ctrl-C.
	for !strings.HasSuffix(stdout.String(), "}\n") {
		require.True(t, time.Now().Before(deadline), "no summary on stdout")
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, cmd.Wait())
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout.String()), &out), stdout.String())
	assert.Equal(t, url, out["ui_url"])
	assert.Equal(t, true, out["ok"])
}
